"""Net metering (SCEE, Lei 14.300/2022): injected energy compensates consumption, the surplus
becomes kWh credits valid for 60 months, and compensated energy may still pay a share of the
distribution charge (TUSD Fio B) set by year.

Rules (docs/billing.md):
- what a cycle may compensate is its consumption above the connection's minimum (the custo de
  disponibilidade stays due): max(0, consumed − minimum);
- the cycle's own injection compensates first, then credits, oldest first;
- injection left over becomes a credit of this cycle, usable in the 60 cycles after it (a credit
  of 2026-03 is good through 2031-03, gone from 2031-04);
- compensated kWh are credited at the version's base price (single, first tier or fora de
  ponta) and pay `fio_b.pct(year) %` of `fio_b.preco_kwh`, the year being that of the cycle's
  last day (a year before the table's first pays 0 %, one after its last the last rate).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping

from shared.money import format_brl, to_cents
from servidor.billing.errors import InvalidTariff
from servidor.billing.fields import HUNDRED, KWH_QUANTUM, ZERO, amount, kwh_text, plain, price_text
from servidor.billing.invoice import LinhaFatura

CREDIT_MONTHS = 60
# A price of the Fio B component above this is a typo (TUSD itself is well under R$ 2/kWh).
MAX_FIO_B_PRICE = Decimal(100)
MIN_YEAR, MAX_YEAR = 2000, 2100


def _month_number(name: str) -> int:
    year, month = name.split("-")[:2]
    return int(year) * 12 + int(month) - 1


def months_after(name: str, months: int) -> str:
    number = _month_number(name) + months
    return f"{number // 12:04d}-{number % 12 + 1:02d}"


@dataclass(frozen=True, slots=True)
class FioB:
    """The TUSD Fio B price (R$/kWh) and the share of it compensated energy pays, by year."""

    preco_kwh: Decimal
    pct_por_ano: tuple[tuple[int, Decimal], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "preco_kwh", amount("fio_b.preco_kwh", self.preco_kwh, MAX_FIO_B_PRICE, InvalidTariff))
        years = []
        for year, pct in self.pct_por_ano:
            if type(year) is not int or not MIN_YEAR <= year <= MAX_YEAR:
                raise InvalidTariff(f"ano do Fio B fora de {MIN_YEAR}–{MAX_YEAR}: {year}", "fio_b.pct_por_ano")
            years.append((year, amount(f"fio_b.pct_por_ano.{year}", pct, HUNDRED, InvalidTariff)))
        object.__setattr__(self, "pct_por_ano", tuple(sorted(years)))

    def pct(self, year: int) -> Decimal:
        found = ZERO
        for table_year, pct in self.pct_por_ano:
            if table_year <= year:
                found = pct
        return found

    @classmethod
    def from_json(cls, value: Any) -> "FioB | None":
        if value is None:
            return None
        if not isinstance(value, Mapping) or set(value) - {"preco_kwh", "pct_por_ano"} or "preco_kwh" not in value:
            raise InvalidTariff("fio_b deve ser {\"preco_kwh\": R$/kWh, \"pct_por_ano\": {\"2026\": 60, ...}}", "fio_b")
        table = value.get("pct_por_ano", {})
        if not isinstance(table, Mapping) or not all(isinstance(k, str) and k.isdigit() for k in table):
            raise InvalidTariff("fio_b.pct_por_ano deve ter anos (texto AAAA) e percentuais", "fio_b.pct_por_ano")
        return cls(value["preco_kwh"], tuple((int(year), pct) for year, pct in table.items()))

    def to_json(self) -> dict[str, Any]:
        return {"preco_kwh": float(self.preco_kwh),
                "pct_por_ano": {str(year): float(pct) for year, pct in self.pct_por_ano}}


@dataclass(frozen=True, slots=True)
class Credito:
    """kWh injected in cycle `origem` and not yet used."""

    origem: str
    kwh: Decimal

    @property
    def ultimo_ciclo(self) -> str:
        return months_after(self.origem, CREDIT_MONTHS)

    def to_json(self) -> dict[str, Any]:
        return {"origem": self.origem, "kwh": float(self.kwh), "valido_ate": self.ultimo_ciclo}


@dataclass(frozen=True, slots=True)
class Compensacao:
    """One cycle's compensation and the credit balance it leaves."""

    ciclo: str
    injetado_kwh: Decimal
    compensavel_kwh: Decimal
    do_ciclo_kwh: Decimal
    de_creditos_kwh: Decimal
    gerado_kwh: Decimal
    expirado_kwh: Decimal
    saldo_anterior_kwh: Decimal
    creditos: tuple[Credito, ...]

    @property
    def compensado_kwh(self) -> Decimal:
        return self.do_ciclo_kwh + self.de_creditos_kwh

    @property
    def saldo_kwh(self) -> Decimal:
        return sum((c.kwh for c in self.creditos), ZERO)

    def to_json(self) -> dict[str, Any]:
        return {"injetado_kwh": float(self.injetado_kwh), "compensavel_kwh": float(self.compensavel_kwh),
                "compensado_no_ciclo_kwh": float(self.do_ciclo_kwh),
                "compensado_de_creditos_kwh": float(self.de_creditos_kwh),
                "credito_gerado_kwh": float(self.gerado_kwh), "credito_expirado_kwh": float(self.expirado_kwh),
                "saldo_anterior_kwh": float(self.saldo_anterior_kwh), "saldo_kwh": float(self.saldo_kwh),
                "creditos": [c.to_json() for c in self.creditos]}


def compensate(ciclo: str, consumed: Decimal, injected: Decimal, minimum: Decimal,
               credits: tuple[Credito, ...]) -> Compensacao:
    """The compensation of cycle `ciclo` (AAAA-MM) given the credits carried into it."""
    consumed, injected = consumed.quantize(KWH_QUANTUM), max(injected, ZERO).quantize(KWH_QUANTUM)
    live = [c for c in credits if _month_number(c.ultimo_ciclo) >= _month_number(ciclo)]
    expired = sum((c.kwh for c in credits if c not in live), ZERO)
    before = sum((c.kwh for c in live), ZERO)
    compensable = max(consumed - minimum, ZERO)
    same = min(injected, compensable)
    wanted = compensable - same
    left: list[Credito] = []
    used = ZERO
    for credit in sorted(live, key=lambda c: _month_number(c.origem)):
        take = min(credit.kwh, wanted - used)
        used += take
        if credit.kwh - take > 0:
            left.append(Credito(credit.origem, credit.kwh - take))
    made = injected - same
    if made > 0:
        left.append(Credito(ciclo, made))
    return Compensacao(ciclo, injected, compensable, same, used, made, expired, before, tuple(left))


def compensation_lines(compensacao: Compensacao, base_price: Decimal, fio_b: FioB | None,
                       year: int) -> list[LinhaFatura]:
    """The `compensacao` group: energy credited back at the base price, then the Fio B due."""
    lines = []
    for kwh, what in ((compensacao.do_ciclo_kwh, "Energia injetada compensada no ciclo"),
                      (compensacao.de_creditos_kwh, "Créditos de energia de ciclos anteriores")):
        if kwh > 0:
            value = -to_cents(kwh * base_price)
            lines.append(LinhaFatura("compensacao", f"{what} ({kwh_text(kwh)})", value,
                                     f"−{kwh_text(kwh)} × {price_text(base_price)} = {format_brl(value)}",
                                     kwh, "kWh", base_price))
    pct = fio_b.pct(year) if fio_b is not None else ZERO
    if compensacao.compensado_kwh > 0 and pct > 0:
        price = fio_b.preco_kwh * pct / HUNDRED  # type: ignore[union-attr]
        value = to_cents(compensacao.compensado_kwh * price)
        lines.append(LinhaFatura(
            "compensacao", f"TUSD Fio B sobre a energia compensada ({plain(pct)} % em {year})", value,
            f"{kwh_text(compensacao.compensado_kwh)} × {plain(pct)} % × {price_text(fio_b.preco_kwh)} "  # type: ignore[union-attr]
            f"= {format_brl(value)}", compensacao.compensado_kwh, "kWh", price))
    return lines
