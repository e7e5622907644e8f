"""What the terminal app knows about the server's answers: frozen values built from the JSON.

Each `from_json` takes the decoded body of one API answer and raises ValueError, KeyError or
TypeError when the shape is not the documented one; `usuario.api` turns those into BadAnswer, so
a screen only ever sees these values or an ApiError.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.models import MEASUREMENT_CODES
from shared.money import to_decimal

INTERVALS = ("hora", "dia", "mes")
COMMANDS = ("pausar", "retomar", "multiplicador", "limite")
PAUSED = "pausado"


def _instant(value: Any) -> datetime:
    """An ISO 8601 instant with offset, as every timestamp of the API is written."""
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"instante sem fuso: {value!r}")
    return moment


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _money(value: Any) -> Decimal:
    return to_decimal(value if isinstance(value, (int, float, str, Decimal)) else str(value))


@dataclass(frozen=True, slots=True)
class LastReading:
    seq: int
    ts: datetime
    energia_wh: float
    potencia_w: float | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "LastReading":
        return cls(int(data["seq"]), _instant(data["ts"]), float(data["energia_wh"]), _optional_float(data.get("potencia_w")))


@dataclass(frozen=True, slots=True)
class ProjectedInvoice:
    kwh: float
    total: Decimal

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ProjectedInvoice":
        return cls(float(data["kwh"]), _money(data["total"]))


@dataclass(frozen=True, slots=True)
class Summary:
    """The server's `resumo`: the meter's state now."""

    potencia_w: float | None
    kwh_hoje: float
    kwh_mes: float
    cobertura_mes: float
    fatura_projetada: ProjectedInvoice | None
    limite_uso_pct: float | None
    alertas_ativos: int
    leituras: int
    # What kwh_hoje / kwh_mes are (consumo, producao, exportacao, volume) and, for meters that
    # export, this month's import, export and net (import − export).
    grandeza: str = "consumo"
    unidade: str = "kWh"
    importado_kwh_mes: float | None = None
    exportado_kwh_mes: float | None = None
    liquido_kwh_mes: float | None = None
    saldo_creditos_kwh: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.cobertura_mes <= 1.0:
            raise ValueError(f"cobertura fora de 0..1: {self.cobertura_mes}")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Summary":
        projected = data.get("fatura_projetada")
        return cls(
            potencia_w=_optional_float(data.get("potencia_w")),
            kwh_hoje=float(data["kwh_hoje"]),
            kwh_mes=float(data["kwh_mes"]),
            cobertura_mes=float(data["cobertura_mes"]),
            fatura_projetada=None if projected is None else ProjectedInvoice.from_json(projected),
            limite_uso_pct=_optional_float(data.get("limite_uso_pct")),
            alertas_ativos=int(data["alertas_ativos"]),
            leituras=int(data["leituras"]),
            grandeza=str(data.get("grandeza") or "consumo"),
            unidade=str(data.get("unidade") or "kWh"),
            importado_kwh_mes=_optional_float(data.get("importado_kwh_mes")),
            exportado_kwh_mes=_optional_float(data.get("exportado_kwh_mes")),
            liquido_kwh_mes=_optional_float(data.get("liquido_kwh_mes")),
            saldo_creditos_kwh=_optional_float(data.get("saldo_creditos_kwh")),
        )


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    tipo: str
    mensagem: str
    criado_em: datetime
    reconhecido: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Alert":
        return cls(str(data["id"]), str(data["tipo"]), str(data["mensagem"]), _instant(data["criado_em"]), bool(data["reconhecido"]))


@dataclass(frozen=True, slots=True)
class Command:
    """A remote command as the server queued it for the meter's agent."""

    id: str
    comando: str
    valor: float | None
    criado_em: datetime

    def __post_init__(self) -> None:
        if self.comando not in COMMANDS:
            raise ValueError(f"comando desconhecido: {self.comando!r}")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Command":
        return cls(str(data["id"]), str(data["comando"]), _optional_float(data.get("valor")), _instant(data["criado_em"]))


@dataclass(frozen=True, slots=True)
class Meter:
    """A meter with its state. `alertas` and `comandos_pendentes` are filled only by GET of one meter."""

    id: str
    nome: str
    categoria: str
    fuso: str
    limite_alerta_kwh: float | None
    multiplicador: float
    tarifa: str | None
    estado: str
    ultima_leitura: LastReading | None
    resumo: Summary
    alertas: tuple[Alert, ...] = ()
    comandos_pendentes: tuple[Command, ...] = ()
    controle: str | None = None  # the agent's control port, HOST:PORTA (medidor --porta-controle)
    site: str | None = None

    @property
    def paused(self) -> bool:
        return self.estado == PAUSED

    @property
    def tz(self) -> ZoneInfo:
        """The meter's zone; UTC if this machine's tzdata does not know it (labels only shift)."""
        try:
            return ZoneInfo(self.fuso)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Meter":
        last = data.get("ultima_leitura")
        return cls(
            id=str(data["id"]),
            nome=str(data.get("nome") or data["id"]),
            categoria=str(data.get("categoria") or ""),
            fuso=str(data.get("fuso") or "UTC"),
            limite_alerta_kwh=_optional_float(data.get("limite_alerta_kwh")),
            multiplicador=float(data.get("multiplicador", 1.0)),
            tarifa=None if data.get("tarifa") is None else str(data["tarifa"]),
            estado=str(data.get("estado") or "ativo"),
            ultima_leitura=None if last is None else LastReading.from_json(last),
            resumo=Summary.from_json(data["resumo"]),
            alertas=tuple(Alert.from_json(a) for a in data.get("alertas_ativos") or ()),
            comandos_pendentes=tuple(Command.from_json(c) for c in data.get("comandos_pendentes") or ()),
            controle=None if data.get("controle") is None else str(data["controle"]),
            site=None if data.get("site") is None else str(data["site"]),
        )


@dataclass(frozen=True, slots=True)
class LegacyTotals:
    """A 004 meter as the admin's meter list summarizes it (`legado`)."""

    id: str
    consumo_atual_kwh: float | None
    consumo_total_kwh: float | None
    valor_fatura: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "LegacyTotals":
        invoice = data.get("valor_fatura")
        return cls(str(data["id"]), _optional_float(data.get("consumo_atual_kwh")),
                   _optional_float(data.get("consumo_total_kwh")), None if invoice is None else str(invoice))


@dataclass(frozen=True, slots=True)
class MeterList:
    medidores: tuple[Meter, ...]
    legado: tuple[LegacyTotals, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "MeterList":
        return cls(tuple(Meter.from_json(m) for m in data["medidores"]),
                   tuple(LegacyTotals.from_json(m) for m in data.get("legado") or ()))


@dataclass(frozen=True, slots=True)
class Bucket:
    """kWh of one local hour, day or month; `cobertura` is the share of it the readings cover."""

    rotulo: str
    inicio: datetime
    fim: datetime
    kwh: float
    cobertura: float
    parcial: bool

    def __post_init__(self) -> None:
        if not 0.0 <= self.cobertura <= 1.0:
            raise ValueError(f"cobertura fora de 0..1: {self.cobertura}")

    @property
    def gap(self) -> bool:
        """No reading covers this period: its 0 kWh means "unknown", not "nothing used"."""
        return self.cobertura == 0.0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Bucket":
        # Water and gas meters count m³ (`m3`), never kWh: the same column of the chart.
        amount = data["kwh"] if "kwh" in data else data["m3"]
        return cls(str(data["rotulo"]), _instant(data["inicio"]), _instant(data["fim"]), float(amount),
                   float(data["cobertura"]), bool(data.get("parcial", False)))


@dataclass(frozen=True, slots=True)
class Consumption:
    intervalo: str
    buckets: tuple[Bucket, ...]
    total_kwh: float

    def __post_init__(self) -> None:
        if self.intervalo not in INTERVALS:
            raise ValueError(f"intervalo desconhecido: {self.intervalo!r}")

    @property
    def coverage(self) -> float:
        """Mean coverage over the buckets (each bucket one period, as the chart shows them)."""
        return sum(b.cobertura for b in self.buckets) / len(self.buckets) if self.buckets else 0.0

    @property
    def gaps(self) -> int:
        return sum(1 for b in self.buckets if b.gap)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Consumption":
        buckets = tuple(Bucket.from_json(b) for b in data["consumo"])
        return cls(str(data["intervalo"]), buckets, float(data.get("total_kwh", sum(b.kwh for b in buckets))))


@dataclass(frozen=True, slots=True)
class LiveReading:
    seq: int
    ts: datetime
    energia_wh: float
    potencia_w: float | None
    # An analyzer's other measurements (TPF, IPF, FRE …): a number, or one per phase.
    medidas: Mapping[str, float | tuple[float, ...]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "LiveReading":
        medidas = {code: tuple(float(v) for v in value) if isinstance(value, list) else float(value)
                   for code, value in data.items() if code in MEASUREMENT_CODES}
        return cls(int(data["seq"]), _instant(data["ts"]), float(data["energia_wh"]),
                   _optional_float(data.get("potencia_w")), medidas)


@dataclass(frozen=True, slots=True)
class LiveBatch:
    """Readings newer than the `apos` asked for; empty when the long poll ran out (204)."""

    leituras: tuple[LiveReading, ...]
    ultimo_seq: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "LiveBatch":
        return cls(tuple(LiveReading.from_json(r) for r in data["leituras"]), int(data["ultimo_seq"]))


@dataclass(frozen=True, slots=True)
class LegacyMeter:
    """A 004 meter's last payload as `GET /?id=` returns it, both generations of its keys."""

    id: str
    consumo_atual_kwh: float | None
    consumo_total_kwh: float | None
    historico: tuple[str, ...]
    valor_fatura: str | None
    alerta: str | None

    @classmethod
    def from_json(cls, meter_id: str, data: Mapping[str, Any]) -> "LegacyMeter":
        payload = data[meter_id]
        if not isinstance(payload, Mapping):
            raise TypeError("o medidor antigo deveria ser um objeto JSON")
        history: list[str] = []
        for entry in payload.get("Fatura_Atual") or ():
            if isinstance(entry, Mapping):
                history.append(f"{entry.get('data_hora', '?')}  {entry.get('consumo_kwh', '?')} kWh")
            else:
                history.append(str(entry))
        for value in payload.get("historico_consumo_kWh") or ():
            history.append(f"{value} kWh")
        invoice = payload.get("Valor_da_Fatura", payload.get("fatura_a_pagar"))
        return cls(
            id=meter_id,
            consumo_atual_kwh=_optional_float(payload.get("consumo_atual_kWh")),
            consumo_total_kwh=_optional_float(payload.get("consumo_total_kWh")),
            historico=tuple(history),
            valor_fatura=None if invoice is None else str(invoice),
            alerta=str(payload["alerta"]) if payload.get("alerta") else None,
        )


@dataclass(frozen=True, slots=True)
class MeterKey:
    """One of a meter's keys as the server lists it: its role and public id, never the secret."""

    papel: str
    id_chave: str | None
    criado_em: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "MeterKey":
        return cls(str(data["papel"]), data.get("id_chave"), data.get("criado_em"))
