"""The meter (medidor): its editable fields, their validation, and the registry that keeps them.

The registry caches every meter in memory (the ingest path looks one up per request) and writes
through to the document store, which is the durable copy.
"""
from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.models import METER_ID
from servidor.domain.auth import KeyRing, Principal, Role, hash_key, new_key
from servidor.errors import Conflict, InvalidInput, NotFound
from servidor.store.documents import DocumentStore

# opengrid's sensor categories (DOMAIN.md §1, seed 003).
CATEGORIES = ("gridImport", "gridExport", "pvProd", "gridNet", "gridCons", "gridSub", "gridWater", "gridGas", "heatProd")
STATES = ("ativo", "pausado")
# A meter that sends nothing for this long raises a "silêncio" alert (DOMAIN.md §5.8), unless
# the meter sets its own `silencio_s`: 15 min is 90 readings of a 10-s agent.
DEFAULT_SILENCE_S = 15 * 60
EDITABLE = ("nome", "categoria", "fuso", "limite_alerta_kwh", "multiplicador", "tarifa", "estado", "silencio_s")
MAX_NAME = 120
# Bounds that keep percentages and projections finite and catch typos (a limit in Wh, say).
MIN_LIMIT_KWH = 0.001
MAX_LIMIT_KWH = 1e9
MAX_MULTIPLIER = 1000.0

METERS = "medidores"
KEYS = "chaves"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"fuso desconhecido: {name!r} (use um nome IANA como America/Sao_Paulo)") from None


@dataclass(frozen=True, slots=True)
class Meter:
    id: str
    nome: str
    categoria: str = "gridImport"
    fuso: str = "America/Sao_Paulo"
    limite_alerta_kwh: float | None = 500.0
    multiplicador: float = 1.0
    tarifa: str = "padrao"
    estado: str = "ativo"
    silencio_s: int = DEFAULT_SILENCE_S
    criado_em: str = ""
    atualizado_em: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not METER_ID.fullmatch(self.id):
            raise InvalidInput("id deve ter de 1 a 64 letras, dígitos, '.', '_' ou '-', começando por letra ou dígito")
        if not isinstance(self.nome, str) or not self.nome.strip() or len(self.nome) > MAX_NAME:
            raise InvalidInput(f"nome deve ser um texto de 1 a {MAX_NAME} caracteres")
        if self.categoria not in CATEGORIES:
            raise InvalidInput(f"categoria deve ser uma de: {', '.join(CATEGORIES)}")
        zone(self.fuso)
        if self.limite_alerta_kwh is not None and not (
                _positive(self.limite_alerta_kwh) and MIN_LIMIT_KWH <= self.limite_alerta_kwh <= MAX_LIMIT_KWH):
            raise InvalidInput(f"limite_alerta_kwh deve estar entre {MIN_LIMIT_KWH:g} e {MAX_LIMIT_KWH:g} kWh, ou ser null")
        if not (_positive(self.multiplicador) and self.multiplicador <= MAX_MULTIPLIER):
            raise InvalidInput(f"multiplicador deve ser > 0 e ≤ {MAX_MULTIPLIER:g}")
        if not isinstance(self.tarifa, str) or not self.tarifa:
            raise InvalidInput("tarifa deve ser o id de uma tarifa")
        if self.estado not in STATES:
            raise InvalidInput(f"estado deve ser um de: {', '.join(STATES)}")
        if isinstance(self.silencio_s, bool) or not isinstance(self.silencio_s, int) or self.silencio_s < 60:
            raise InvalidInput("silencio_s deve ser um inteiro de segundos ≥ 60")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.fuso)

    @classmethod
    def from_json(cls, obj: Any, *, meter_id: str | None = None, defaults: Mapping[str, Any] = {}) -> "Meter":
        """Build from a request body. Unknown fields are refused, so a typo is not silently lost."""
        if not isinstance(obj, Mapping):
            raise InvalidInput("o corpo deve ser um objeto JSON")
        allowed = set(EDITABLE) | ({"id"} if meter_id is None else set())
        unknown = sorted(set(obj) - allowed - {"criado_em", "atualizado_em", "ultima_leitura"})
        if unknown:
            raise InvalidInput(f"campos desconhecidos: {', '.join(unknown)}")
        fields = {**defaults, **{k: obj[k] for k in allowed if k in obj}}
        fields["id"] = meter_id if meter_id is not None else obj.get("id")
        if "nome" not in fields:
            fields["nome"] = fields["id"] if isinstance(fields["id"], str) else ""
        if isinstance(fields.get("multiplicador"), int) and not isinstance(fields["multiplicador"], bool):
            fields["multiplicador"] = float(fields["multiplicador"])
        if isinstance(fields.get("limite_alerta_kwh"), int) and not isinstance(fields["limite_alerta_kwh"], bool):
            fields["limite_alerta_kwh"] = float(fields["limite_alerta_kwh"])
        try:
            return cls(**fields)
        except TypeError as exc:
            raise InvalidInput(f"campos inválidos: {exc}") from None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _positive(value: Any) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(value)
        and value > 0
    )


@dataclass(frozen=True, slots=True)
class NewMeterKeys:
    chave_escrita: str
    chave_leitura: str


class MeterRegistry:
    """All meters, cached; every change written through to the document store first."""

    def __init__(self, docs: DocumentStore, keys: KeyRing, default_zone: str) -> None:
        self._docs = docs
        self._keys = keys
        self.default_zone = default_zone
        self._lock = threading.Lock()
        self._meters: dict[str, Meter] = {}
        for doc in docs.all(METERS):
            meter = Meter(**{k: v for k, v in doc.items() if k in Meter.__dataclass_fields__})
            self._meters[meter.id] = meter
        for doc in docs.all(KEYS):
            principal = Principal(Role(doc["papel"]), doc.get("medidor"))
            if doc.get("id_chave"):
                keys.add(doc["id_chave"], doc["hash"], principal)
            else:
                keys.add_global(doc["hash"], principal)

    def get(self, meter_id: str) -> Meter:
        meter = self._meters.get(meter_id)
        if meter is None:
            raise NotFound(f"medidor {meter_id} não existe")
        return meter

    def find(self, meter_id: str) -> Meter | None:
        return self._meters.get(meter_id)

    def all(self) -> list[Meter]:
        return sorted(self._meters.values(), key=lambda m: m.id)

    def create(self, body: Any) -> tuple[Meter, NewMeterKeys]:
        stamp = now_iso()
        meter = Meter.from_json(body, defaults={"fuso": self.default_zone})
        meter = replace(meter, criado_em=stamp, atualizado_em=stamp)
        write_key, write_id = new_key("me")
        read_key, read_id = new_key("ml")
        with self._lock:
            if meter.id in self._meters:
                raise Conflict(f"já existe um medidor com id {meter.id}")

            def work(db: Any) -> None:
                db.table(METERS).insert(meter.to_json())
                db.table(KEYS).insert_multiple([
                    {"id_chave": write_id, "hash": hash_key(write_key), "papel": Role.WRITE.value, "medidor": meter.id},
                    {"id_chave": read_id, "hash": hash_key(read_key), "papel": Role.READ.value, "medidor": meter.id},
                ])

            self._docs.transaction(work)
            self._meters[meter.id] = meter
        self._keys.add(write_id, hash_key(write_key), Principal(Role.WRITE, meter.id))
        self._keys.add(read_id, hash_key(read_key), Principal(Role.READ, meter.id))
        return meter, NewMeterKeys(write_key, read_key)

    def replace_fields(self, meter_id: str, body: Any) -> Meter:
        """PUT: the editable fields in `body` replace the meter's; omitted ones return to defaults."""
        with self._lock:
            current = self.get(meter_id)
            fresh = Meter.from_json(body, meter_id=meter_id, defaults={"fuso": self.default_zone})
            return self._save(replace(fresh, criado_em=current.criado_em, atualizado_em=now_iso()))

    def update(self, meter_id: str, **changes: Any) -> Meter:
        with self._lock:
            current = self.get(meter_id)
            return self._save(replace(current, **changes, atualizado_em=now_iso()))

    def _save(self, meter: Meter) -> Meter:
        self._docs.upsert(METERS, "id", meter.to_json())
        self._meters[meter.id] = meter
        return meter

    def delete(self, meter_id: str) -> None:
        with self._lock:
            self.get(meter_id)

            def work(db: Any) -> None:
                from tinydb import where

                db.table(METERS).remove(where("id") == meter_id)
                db.table(KEYS).remove(where("medidor") == meter_id)

            self._docs.transaction(work)
            del self._meters[meter_id]
        self._keys.remove_meter(meter_id)
