"""What the terminal app knows of invoices per cycle, tariffs with versions and the tariff comparison.

Built from the server's JSON like usuario.models (ValueError, KeyError or TypeError for a shape that
is not the documented one). A tariff version keeps its JSON as it came: the Controle tab edits it as
JSON and the server validates it, naming the field it refuses.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping

from shared.money import to_decimal


def _money(value: Any) -> Decimal:
    return to_decimal(value if isinstance(value, (int, float, str, Decimal)) else str(value))


def _optional(value: Any, kind: Any) -> Any:
    return None if value is None else kind(value)


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    grupo: str
    descricao: str
    quantidade: float | None
    unidade: str | None
    preco: Decimal | None
    valor: Decimal
    calculo: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "InvoiceLine":
        return cls(str(data["grupo"]), str(data["descricao"]), _optional(data.get("quantidade"), float),
                   _optional(data.get("unidade"), str), _optional(data.get("preco"), _money), _money(data["valor"]),
                   str(data.get("calculo") or ""))


@dataclass(frozen=True, slots=True)
class Invoice:
    """One cycle's invoice: `mes` is the cycle's name (the month the bill is issued in)."""

    mes: str
    rotulo: str
    primeiro_dia: str
    ultimo_dia: str
    tarifa: str | None
    tarifa_nome: str
    kwh: float
    linhas: tuple[InvoiceLine, ...]
    subtotal: Decimal
    tributos: Decimal
    total: Decimal
    cobertura: float
    parcial: bool
    situacao: str
    versao: int | None
    reemitida_em: str | None
    avisos: tuple[str, ...]
    # Net metering: kWh of credit left after this cycle (None: the meter does not inject).
    saldo_creditos_kwh: float | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Invoice":
        cycle = data["ciclo"]
        return cls(
            mes=str(data["mes"]), rotulo=str(cycle["rotulo"]), primeiro_dia=str(cycle["primeiro_dia"]),
            ultimo_dia=str(cycle["ultimo_dia"]), tarifa=_optional(data.get("tarifa"), str),
            tarifa_nome=str(data.get("tarifa_nome") or ""), kwh=float(data["kwh_medido"]),
            linhas=tuple(InvoiceLine.from_json(line) for line in data["linhas"]), subtotal=_money(data["subtotal"]),
            tributos=_money(data["tributos"]), total=_money(data["total"]), cobertura=float(data.get("cobertura", 1.0)),
            parcial=bool(data.get("parcial", False)), situacao=str(data.get("situacao") or ""),
            versao=_optional(data.get("versao"), int), reemitida_em=_optional(data.get("reemitida_em"), str),
            avisos=tuple(str(note) for note in data.get("avisos") or ()),
            saldo_creditos_kwh=_optional(data.get("saldo_creditos_kwh"), float),
        )


@dataclass(frozen=True, slots=True)
class InvoiceVersion:
    versao: int
    emitida_em: str
    total: Decimal | None
    kwh: float | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "InvoiceVersion":
        return cls(int(data["versao"]), str(data["emitida_em"]), _optional(data.get("total"), _money),
                   _optional(data.get("kwh_medido"), float))


@dataclass(frozen=True, slots=True)
class TariffVersion:
    vigencia: str
    modalidade: str
    fonte: str
    raw: Mapping[str, Any]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "TariffVersion":
        return cls(str(data["vigencia"]), str(data["modalidade"]), str(data.get("fonte") or ""), dict(data))


@dataclass(frozen=True, slots=True)
class Tariff:
    """A versioned tariff; `raw` is its JSON, for a PUT that changes only the name."""

    id: str
    nome: str
    modalidade: str
    versoes: tuple[TariffVersion, ...]
    raw: Mapping[str, Any]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Tariff":
        return cls(str(data["id"]), str(data["nome"]), str(data["modalidade"]),
                   tuple(TariffVersion.from_json(v) for v in data["versoes"]), dict(data))


@dataclass(frozen=True, slots=True)
class ComparedCycle:
    nome: str
    rotulo: str
    kwh: float
    cobertura: float
    completo: bool
    totais: Mapping[str, Decimal]


@dataclass(frozen=True, slots=True)
class ComparedHour:
    hora: int
    kwh: float
    postos: Mapping[str, str | None]
    diferencas: Mapping[str, Decimal]


@dataclass(frozen=True, slots=True)
class Comparison:
    """`tarifas` is [(id, nome)], the meter's own first; money by tariff id."""

    tarifas: tuple[tuple[str, str], ...]
    ciclos: tuple[ComparedCycle, ...]
    ciclos_completos: int
    totais: Mapping[str, Decimal]
    diferencas: Mapping[str, Decimal]
    horas: tuple[ComparedHour, ...]
    mais_barata: str | None
    historico_curto: bool
    conclusao: str
    avisos: tuple[str, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Comparison":
        def money(values: Mapping[str, Any]) -> dict[str, Decimal]:
            return {str(k): _money(v) for k, v in values.items()}
        return cls(
            tarifas=tuple((str(t["id"]), str(t["nome"])) for t in data["tarifas"]),
            ciclos=tuple(ComparedCycle(str(c["ciclo"]["nome"]), str(c["ciclo"]["rotulo"]), float(c["kwh"]),
                                       float(c["cobertura"]), bool(c["completo"]), money(c["totais"]))
                         for c in data["ciclos"]),
            ciclos_completos=int(data["ciclos_completos"]), totais=money(data["totais"]),
            diferencas=money(data["diferencas"]),
            horas=tuple(ComparedHour(int(h["hora"]), float(h["kwh_dias_uteis"]) + float(h["kwh_outros_dias"]),
                                     dict(h["postos"]), money(h["diferencas"])) for h in data["horas"]),
            mais_barata=_optional(data.get("mais_barata"), str), historico_curto=bool(data["historico_curto"]),
            conclusao=str(data["conclusao"]), avisos=tuple(str(n) for n in data.get("avisos") or ()),
        )
