"""A cycle's invoice as values: lines that say how each amount was computed, and their sum.

Line groups, in a bill's order: energia, disponibilidade, bandeira, taxa_fixa (the taxed
supply), then tributo (ICMS, PIS/PASEP, COFINS) and cip. Injected energy and credits (issue 10,
SCEE net metering) belong in a `compensacao` group between the supply and the taxes: its lines
reduce the taxed subtotal, so the taxes already follow them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from shared.money import format_brl, to_cents
from servidor.billing.cycles import Ciclo
from servidor.billing.errors import BillingError

GROUPS = ("energia", "disponibilidade", "bandeira", "taxa_fixa", "compensacao", "tributo", "cip")
TAXED_GROUPS = frozenset({"energia", "disponibilidade", "bandeira", "taxa_fixa", "compensacao"})


def _number(value: Decimal | None) -> float | None:
    # Every figure here has at most 8 decimals and well under 15 significant digits: a float
    # carries it to JSON unchanged, as the rest of the API does.
    return None if value is None else float(value)


@dataclass(frozen=True, slots=True)
class LinhaFatura:
    """One line: `valor` in centavos; `calculo` is the arithmetic as the user would redo it."""

    grupo: str
    descricao: str
    valor: Decimal
    calculo: str
    quantidade: Decimal | None = None
    unidade: str | None = None
    preco: Decimal | None = None
    posto: str | None = None
    vigencia: date | None = None

    def __post_init__(self) -> None:
        if self.grupo not in GROUPS:
            raise BillingError(f"grupo de linha desconhecido: {self.grupo!r}", "grupo")
        if to_cents(self.valor) != self.valor:
            raise BillingError("valor de uma linha da fatura deve estar em centavos", "valor")

    def to_json(self) -> dict[str, Any]:
        return {
            "grupo": self.grupo,
            "descricao": self.descricao,
            "quantidade": _number(self.quantidade),
            "unidade": self.unidade,
            "preco": _number(self.preco),
            "valor": float(self.valor),
            "valor_formatado": format_brl(self.valor),
            "calculo": self.calculo,
            "posto": self.posto,
            "vigencia": None if self.vigencia is None else self.vigencia.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class FaturaCiclo:
    """A cycle's invoice under one tariff. `total` is the exact sum of the rounded lines.

    `cobertura` is the share of the cycle's time with readings (1 when every quarter hour
    arrived); `avisos` are pt-BR notes the user should read (a month without a bandeira, a
    cycle with missing data).
    """

    tarifa: str
    tarifa_nome: str
    modalidade: str
    ciclo: Ciclo
    kwh_medido: Decimal
    kwh_faturado: Decimal
    linhas: tuple[LinhaFatura, ...]
    subtotal: Decimal
    total: Decimal
    cobertura: Decimal
    dias_com_dados: int
    bandeiras: tuple[tuple[str, str | None], ...] = ()
    feriados: tuple[tuple[date, str], ...] = ()
    avisos: tuple[str, ...] = ()
    # Net metering: the cycle's compensation and credit balance (billing/compensation.py).
    compensacao: Any = None

    def __post_init__(self) -> None:
        if self.total != sum((line.valor for line in self.linhas), Decimal(0)):
            raise BillingError("total da fatura difere da soma das linhas", "total")
        taxed = sum((line.valor for line in self.linhas if line.grupo in TAXED_GROUPS), Decimal(0))
        if self.subtotal != taxed:
            raise BillingError("subtotal da fatura difere da soma das linhas tributadas", "subtotal")

    def lines_of(self, grupo: str) -> tuple[LinhaFatura, ...]:
        return tuple(line for line in self.linhas if line.grupo == grupo)

    def sum_of(self, grupo: str) -> Decimal:
        return sum((line.valor for line in self.linhas if line.grupo == grupo), Decimal(0))

    def to_json(self) -> dict[str, Any]:
        return {
            "tarifa": self.tarifa,
            "tarifa_nome": self.tarifa_nome,
            "modalidade": self.modalidade,
            "ciclo": self.ciclo.to_json(),
            "kwh_medido": float(self.kwh_medido),
            "kwh_faturado": float(self.kwh_faturado),
            "linhas": [line.to_json() for line in self.linhas],
            "subtotal": float(self.subtotal),
            "tributos": float(self.sum_of("tributo")),
            "total": float(self.total),
            "total_formatado": format_brl(self.total),
            "cobertura": float(self.cobertura),
            "dias_com_dados": self.dias_com_dados,
            "bandeiras": [{"mes": month, "bandeira": flag} for month, flag in self.bandeiras],
            "feriados": [{"dia": day.isoformat(), "nome": name} for day, name in self.feriados],
            "avisos": list(self.avisos),
            # Only for a meter that injects energy: every other invoice keeps its JSON.
            **({} if self.compensacao is None else {"compensacao": self.compensacao.to_json(),
                                                      "saldo_creditos_kwh": float(self.compensacao.saldo_kwh)}),
        }
