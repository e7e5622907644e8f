"""Tariffs and monthly invoices: price per kWh or tiers, a fixed monthly charge and taxes.

These are what users of other monitors miss. An invoice is computed from a
tariff and a month's kWh each time it is asked for, so correcting a price corrects every invoice.
Every line is rounded to centavos and the total is the exact sum of the lines, as on a printed bill.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping

from servidor.billing.calendar import parse_month
from shared.money import MAX_DECIMALS, MONEY_ROUNDING, format_brl, format_number_br, to_cents, to_decimal

# Residential prices in Brazil are around R$ 0,60–1,20 per kWh with taxes; above R$ 100/kWh is a
# price typed in centavos, not a tariff.
MAX_PRECO_KWH = Decimal(100)
# A small business's standing charge is a few hundred reais; a million is a typo.
MAX_TAXA_FIXA = Decimal(1_000_000)
# A tier bound above a million kWh a month is beyond any household, school or small business.
MAX_FAIXA_KWH = Decimal(1_000_000)
# Brazilian tiered schemes (tarifa social) have four tiers; ten bounds an invoice's length.
MAX_FAIXAS = 10
MAX_NOME = 120

_SLUG_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_TARIFF_KEYS = frozenset({"id", "nome", "preco_kwh", "taxa_fixa_mensal", "impostos_pct", "faixas", "moeda"})
_TIER_KEYS = frozenset({"ate_kwh", "preco_kwh"})
# Meters count whole Wh: kWh beyond three decimals is float noise from summing buckets.
_KWH_QUANTUM = Decimal("0.001")


def _amount(name: str, value: Any, maximum: Decimal) -> Decimal:
    number = to_decimal(value, name)
    if number < 0:
        raise ValueError(f"{name} não pode ser negativo")
    if number > maximum:
        raise ValueError(f"{name} acima do máximo aceito ({format_number_br(maximum, 0)})")
    # More decimals than this would not survive to_json's floats unchanged.
    if number != number.quantize(Decimal(1).scaleb(-MAX_DECIMALS), rounding=MONEY_ROUNDING):
        raise ValueError(f"{name} com mais de {MAX_DECIMALS} casas decimais")
    return number


def _plain(value: Decimal) -> str:
    """A bound or rate with only the decimals it needs: 100 → "100", 25.5 → "25,5"."""
    exponent = value.normalize().as_tuple().exponent
    decimals = max(0, -exponent) if isinstance(exponent, int) else 0
    return format_number_br(value, min(decimals, MAX_DECIMALS))


@dataclass(frozen=True, slots=True)
class Faixa:
    """A tier: the month's kWh up to `ate_kwh` (from the previous tier's bound) at `preco_kwh`."""

    ate_kwh: Decimal | None
    preco_kwh: Decimal

    def __post_init__(self) -> None:
        if self.ate_kwh is not None:
            bound = _amount("ate_kwh", self.ate_kwh, MAX_FAIXA_KWH)
            if bound == 0:
                raise ValueError("ate_kwh de uma faixa deve ser maior que zero")
            object.__setattr__(self, "ate_kwh", bound)
        object.__setattr__(self, "preco_kwh", _amount("preco_kwh da faixa", self.preco_kwh, MAX_PRECO_KWH))


@dataclass(frozen=True, slots=True)
class Tarifa:
    """A tariff. `impostos_pct` is the combined rate of the taxes on the bill (ICMS + PIS/COFINS).

    Those taxes are charged "por dentro" in Brazil (LC 87/96 art. 13 §1º I: the tax is part of
    its own base), so the rate is a share of the final total: total = (energy + fixed charge) /
    (1 − rate). That is why the rate must stay below 100 %, and why the rates printed on a real
    bill can be entered here unchanged.
    """

    id: str
    nome: str
    preco_kwh: Decimal = Decimal("0.50")  # the 004 system's price, R$ 0,50/kWh
    taxa_fixa_mensal: Decimal = Decimal(0)
    impostos_pct: Decimal = Decimal(0)
    faixas: tuple[Faixa, ...] = ()  # when present they replace preco_kwh
    moeda: str = "BRL"

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _SLUG_RE.fullmatch(self.id):
            raise ValueError(
                "id da tarifa deve ter de 1 a 64 caracteres: letras minúsculas, dígitos, '_' ou '-'"
            )
        if not isinstance(self.nome, str) or not self.nome.strip():
            raise ValueError("nome da tarifa é obrigatório")
        if len(self.nome) > MAX_NOME:
            raise ValueError(f"nome da tarifa com mais de {MAX_NOME} caracteres")
        object.__setattr__(self, "nome", self.nome.strip())
        object.__setattr__(self, "preco_kwh", _amount("preco_kwh", self.preco_kwh, MAX_PRECO_KWH))
        object.__setattr__(
            self, "taxa_fixa_mensal", _amount("taxa_fixa_mensal", self.taxa_fixa_mensal, MAX_TAXA_FIXA)
        )
        rate = _amount("impostos_pct", self.impostos_pct, Decimal(100))
        if rate >= 100:
            raise ValueError("impostos_pct deve ser menor que 100")
        object.__setattr__(self, "impostos_pct", rate)
        # Only BRL: format_brl and the invoice's total_formatado know no other currency.
        if self.moeda != "BRL":
            raise ValueError(f"moeda não suportada: {self.moeda!r} (apenas BRL)")
        self._check_tiers()

    def _check_tiers(self) -> None:
        tiers = tuple(self.faixas)
        object.__setattr__(self, "faixas", tiers)
        if not tiers:
            return
        if len(tiers) > MAX_FAIXAS:
            raise ValueError(f"no máximo {MAX_FAIXAS} faixas")
        if not all(isinstance(tier, Faixa) for tier in tiers):
            raise ValueError("faixas deve conter apenas faixas")
        if tiers[-1].ate_kwh is not None:
            raise ValueError("a última faixa não pode ter limite (ate_kwh deve ser nulo)")
        bounds = [tier.ate_kwh for tier in tiers[:-1]]
        if any(bound is None for bound in bounds):
            raise ValueError("só a última faixa pode ficar sem limite (ate_kwh)")
        if any(b <= a for a, b in zip(bounds, bounds[1:])):  # type: ignore[operator]
            raise ValueError("os limites das faixas (ate_kwh) devem ser crescentes")

    @classmethod
    def from_json(cls, obj: Any, id: str | None = None) -> Tarifa:
        """A tariff from a JSON object; numbers may be JSON numbers or numeric strings.

        `id` comes from the URL when there is one; a different id in the body is refused.
        Unknown keys are refused so a misspelt "preco_kWh" is not silently ignored.
        """
        if not isinstance(obj, Mapping):
            raise ValueError("tarifa deve ser um objeto JSON")
        unknown = sorted(set(obj) - _TARIFF_KEYS)
        if unknown:
            raise ValueError(f"campos desconhecidos na tarifa: {', '.join(unknown)}")
        body_id = obj.get("id")
        if id is not None and body_id is not None and body_id != id:
            raise ValueError(f"id do corpo ({body_id!r}) difere do id informado ({id!r})")
        tariff_id = id if id is not None else body_id
        if tariff_id is None:
            raise ValueError("id da tarifa é obrigatório")
        if "nome" not in obj:
            raise ValueError("nome da tarifa é obrigatório")
        raw_tiers = obj.get("faixas", [])
        if not isinstance(raw_tiers, list):
            raise ValueError("faixas deve ser uma lista")
        return cls(
            id=tariff_id,
            nome=obj["nome"],
            preco_kwh=obj.get("preco_kwh", Decimal("0.50")),
            taxa_fixa_mensal=obj.get("taxa_fixa_mensal", 0),
            impostos_pct=obj.get("impostos_pct", 0),
            faixas=tuple(_tier_from_json(index, item) for index, item in enumerate(raw_tiers, 1)),
            moeda=obj.get("moeda", "BRL"),
        )

    def to_json(self) -> dict[str, Any]:
        """JSON numbers (floats): every value has at most MAX_DECIMALS decimals and well under
        15 significant digits, so from_json(to_json()) gives back an equal tariff."""
        return {
            "id": self.id,
            "nome": self.nome,
            "preco_kwh": float(self.preco_kwh),
            "taxa_fixa_mensal": float(self.taxa_fixa_mensal),
            "impostos_pct": float(self.impostos_pct),
            "faixas": [
                {"ate_kwh": None if t.ate_kwh is None else float(t.ate_kwh), "preco_kwh": float(t.preco_kwh)}
                for t in self.faixas
            ],
            "moeda": self.moeda,
        }


def _tier_from_json(index: int, item: Any) -> Faixa:
    if not isinstance(item, Mapping):
        raise ValueError(f"faixa {index} deve ser um objeto JSON")
    unknown = sorted(set(item) - _TIER_KEYS)
    if unknown:
        raise ValueError(f"campos desconhecidos na faixa {index}: {', '.join(unknown)}")
    if "preco_kwh" not in item:
        raise ValueError(f"faixa {index} sem preco_kwh")
    return Faixa(ate_kwh=item.get("ate_kwh"), preco_kwh=item["preco_kwh"])


DEFAULT_TARIFF = Tarifa(id="padrao", nome="Tarifa padrão")


@dataclass(frozen=True, slots=True)
class ItemFatura:
    """One invoice line; `valor` is in centavos already."""

    descricao: str
    quantidade: Decimal
    unidade: str
    preco_unitario: Decimal
    valor: Decimal

    def __post_init__(self) -> None:
        if to_cents(self.valor) != self.valor:
            raise ValueError("valor de um item da fatura deve estar em centavos")

    def to_json(self) -> dict[str, Any]:
        return {
            "descricao": self.descricao,
            "quantidade": float(self.quantidade),
            "unidade": self.unidade,
            "preco_unitario": float(self.preco_unitario),
            "valor": float(self.valor),
        }


@dataclass(frozen=True, slots=True)
class Fatura:
    """A month's invoice for one meter. `cobertura` is the share of the month with readings;
    `parcial` marks a month still running (or not fully covered), so the total will change."""

    medidor: str
    mes: str
    tarifa: str
    kwh: Decimal
    itens: tuple[ItemFatura, ...]
    subtotal: Decimal
    impostos: Decimal
    total: Decimal
    cobertura: float
    parcial: bool

    def __post_init__(self) -> None:
        parse_month(self.mes)
        if not 0.0 <= self.cobertura <= 1.0:
            raise ValueError("cobertura deve estar entre 0 e 1")
        if self.total != self.subtotal + self.impostos or self.total != sum(i.valor for i in self.itens):
            raise ValueError("total da fatura difere da soma dos itens")

    def to_json(self) -> dict[str, Any]:
        return {
            "medidor": self.medidor,
            "mes": self.mes,
            "tarifa": self.tarifa,
            "kwh": float(self.kwh),
            "itens": [item.to_json() for item in self.itens],
            "subtotal": float(self.subtotal),
            "impostos": float(self.impostos),
            "total": float(self.total),
            "total_formatado": format_brl(self.total),
            "cobertura": round(self.cobertura, 4),
            "parcial": self.parcial,
        }


def _tier_label(number: int, lower: Decimal, upper: Decimal | None) -> str:
    if upper is None:
        span = f"acima de {_plain(lower)} kWh" if lower > 0 else "todo o consumo"
    elif lower == 0:
        span = f"até {_plain(upper)} kWh"
    else:
        span = f"de {_plain(lower)} a {_plain(upper)} kWh"
    return f"Energia (faixa {number}: {span})"


def _energy_lines(tarifa: Tarifa, kwh: Decimal) -> list[ItemFatura]:
    if not tarifa.faixas:
        return [ItemFatura("Energia", kwh, "kWh", tarifa.preco_kwh, to_cents(kwh * tarifa.preco_kwh))]
    lines: list[ItemFatura] = []
    lower = Decimal(0)
    for number, tier in enumerate(tarifa.faixas, 1):
        upper = tier.ate_kwh
        # Never negative: a tier is only entered once kwh passed the previous bound.
        quantity = (kwh if upper is None else min(kwh, upper)) - lower
        lines.append(ItemFatura(_tier_label(number, lower, upper), quantity, "kWh", tier.preco_kwh,
                                to_cents(quantity * tier.preco_kwh)))
        # Only tiers the month reached are billed; a month with no consumption still shows
        # the first tier, at zero, so the invoice says what energy costs.
        if upper is None or kwh <= upper:
            break
        lower = upper
    return lines


def compute_invoice(
    tarifa: Tarifa,
    medidor_id: str,
    mes: str,
    kwh: Decimal | float | int,
    *,
    cobertura: float = 1.0,
    parcial: bool = False,
) -> Fatura:
    """The invoice for `kwh` consumed in month `mes` ("AAAA-MM") under `tarifa`.

    Lines: energy (one per tier reached), the fixed monthly charge if any, taxes if any. Each
    is rounded to centavos and the total is their exact sum. Raises ValueError (pt-BR) for a
    negative consumption or a malformed month.
    """
    parse_month(mes)
    amount = to_decimal(kwh, "kwh").quantize(_KWH_QUANTUM, rounding=MONEY_ROUNDING)
    if amount < 0:
        raise ValueError("consumo (kwh) não pode ser negativo")
    items = _energy_lines(tarifa, amount)
    if tarifa.taxa_fixa_mensal > 0:
        items.append(ItemFatura("Taxa fixa mensal", Decimal(1), "mês", tarifa.taxa_fixa_mensal,
                                to_cents(tarifa.taxa_fixa_mensal)))
    subtotal = sum((item.valor for item in items), Decimal(0))
    taxes = Decimal(0)
    if tarifa.impostos_pct > 0:
        rate = tarifa.impostos_pct / 100
        # Round the grossed-up total, then take taxes as the difference: the lines then add up
        # exactly and the total grows with consumption, never shrinks by a rounding.
        taxes = to_cents(subtotal / (1 - rate)) - subtotal
        items.append(ItemFatura(f"Impostos ({_plain(tarifa.impostos_pct)}%)", subtotal + taxes, "R$",
                                rate, taxes))
    return Fatura(
        medidor=medidor_id,
        mes=mes,
        tarifa=tarifa.id,
        kwh=amount,
        itens=tuple(items),
        subtotal=subtotal,
        impostos=taxes,
        total=subtotal + taxes,
        cobertura=float(cobertura),
        parcial=bool(parcial),
    )


def project_month_kwh(kwh_so_far: float, elapsed_ms: int, month_ms: int) -> float:
    """The month's kWh if the pace so far continues to its end (linear).

    Nothing elapsed gives kwh_so_far unchanged (no pace to extrapolate); a finished month
    gives what was consumed.
    """
    if month_ms <= 0:
        raise ValueError("duração do mês deve ser positiva")
    if elapsed_ms <= 0 or elapsed_ms >= month_ms:
        return float(kwh_so_far)
    return float(kwh_so_far) * month_ms / elapsed_ms
