"""Every meter, cached in memory (ingest looks one up per request) and written through to the
document store; creation and deletion each in one atomic write with the meter's keys."""
from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any, Callable, Iterable, Sequence

from servidor.domain.atomic import Tables, atomic
from servidor.domain.errors import Conflict, NotFound
from servidor.domain import keys as key_ring
from servidor.domain.auth import Role
from servidor.domain.keys import KEYS, METER_ROLES, KeyRing, NewMeterKeys
from servidor.domain.meters import STREAM_SEPARATOR, Meter, now_iso
from servidor.store.documents import DocumentStore

METERS = "medidores"
# id → the generation its next incarnation gets. Kept after the meter's own document is gone.
GENERATIONS = "geracoes"


def has_documents(docs: DocumentStore) -> bool:
    """Whether the document store holds any meter or key: a server's documents, not a fresh file."""
    return bool(docs.all(METERS) or docs.all(KEYS))


def retire_streams(docs: DocumentStore, streams: Iterable[str]) -> None:
    """Record that these readings streams are given up (their readings are being deleted), so an
    id among them, created again, gets a generation past every one of them: a deleted stream is
    dead for good, and a new meter must not land on one."""
    def change(tables: Tables) -> None:
        for meter_id, generation in _highest_generations(streams).items():
            current = tables.find(GENERATIONS, "id", meter_id)
            if current is None or current["proxima"] <= generation:
                tables.upsert(GENERATIONS, "id", {"id": meter_id, "proxima": generation + 1})

    atomic(docs, change)


def _highest_generations(streams: Iterable[str]) -> dict[str, int]:
    highest: dict[str, int] = {}
    for stream in streams:
        meter_id, _, generation = stream.partition(STREAM_SEPARATOR)
        number = int(generation) if generation.isdigit() else 0
        highest[meter_id] = max(highest.get(meter_id, 0), number)
    return highest


class MeterRegistry:
    def __init__(self, docs: DocumentStore, keys: KeyRing, default_zone: str) -> None:
        self._docs = docs
        self._shared = bool(getattr(docs, "shared", False))
        self._keys = keys
        self.default_zone = default_zone
        self._lock = threading.Lock()
        self._meters: dict[str, Meter] = {Meter.from_doc(d).id: Meter.from_doc(d) for d in docs.all(METERS)}
        self._sorted: tuple[Meter, ...] | None = None
        # Shared documents only: when each meter, and the whole list, were last read from them.
        self._checked_at: dict[str, float] = dict.fromkeys(self._meters, time.monotonic())
        self._listed_at = time.monotonic()

    def get(self, meter_id: str) -> Meter:
        meter = self.find(meter_id)
        if meter is None:
            raise NotFound(f"medidor {meter_id} não existe")
        return meter

    def find(self, meter_id: str) -> Meter | None:
        meter = self._meters.get(meter_id)
        if self._shared and (meter is None or self._stale(meter_id)):
            # Documents shared by several servers: the meter may have been made, changed or
            # deleted through another since this server last looked.
            doc = self._docs.get(METERS, "id", meter_id)
            self._checked_at[meter_id] = time.monotonic()
            if doc is None:
                if self._meters.pop(meter_id, None) is not None:
                    self._sorted = None
                return None
            meter = Meter.from_doc(doc)
            self._store(meter)
        return meter

    def _stale(self, meter_id: str) -> bool:
        return time.monotonic() - self._checked_at.get(meter_id, 0.0) >= key_ring.SHARED_RECHECK_S

    def all(self, fresh: bool = False) -> tuple[Meter, ...]:
        """Every meter, by id. With shared documents the list is read again when it is older
        than SHARED_RECHECK_S, or now if `fresh` (a lookup that missed)."""
        if self._shared and (fresh or time.monotonic() - self._listed_at >= key_ring.SHARED_RECHECK_S):
            now = time.monotonic()
            self._meters = {m.id: m for m in (Meter.from_doc(d) for d in self._docs.all(METERS))}
            self._checked_at = dict.fromkeys(self._meters, now)
            self._listed_at, self._sorted = now, None
        listed = self._sorted
        if listed is None:
            listed = self._sorted = tuple(sorted(self._meters.values(), key=lambda m: m.id))
        return listed

    def _store(self, meter: Meter) -> None:
        self._meters[meter.id] = meter
        self._checked_at[meter.id] = time.monotonic()
        self._sorted = None

    def create(self, body: Any) -> tuple[Meter, NewMeterKeys]:
        """A new meter and its two keys, written together; Conflict if the id exists."""
        stamp = now_iso()
        meter = replace(Meter.from_json(body, defaults={"fuso": self.default_zone}), criado_em=stamp, atualizado_em=stamp)
        keys, key_docs = self._keys.issue(meter.id)
        with self._lock:
            if meter.id in self._meters:
                raise Conflict(f"já existe um medidor com id {meter.id}")
            self._check_blip_id(meter)

            def change(tables: Tables) -> Meter:
                reused = tables.find(GENERATIONS, "id", meter.id)
                created = replace(meter, geracao=reused["proxima"] if reused else 0)
                tables.insert(METERS, created.to_doc())
                for doc in key_docs:
                    tables.insert(KEYS, doc)
                return created

            meter = atomic(self._docs, change)
            self._store(meter)
        self._keys.adopt(key_docs)
        return meter, keys

    def replace_fields(self, meter_id: str, body: Any) -> Meter:
        """PUT: the editable fields in `body` replace the meter's; omitted ones return to defaults."""
        with self._lock:
            current = self.get(meter_id)
            # blipserver's clients keep the number in their URLs: a PUT that does not name
            # id_blip (a client that predates it) keeps it; null removes it.
            defaults = {"fuso": self.default_zone, "id_blip": current.id_blip}
            fresh = Meter.from_json(body, meter_id=meter_id, defaults=defaults)
            self._check_blip_id(fresh)
            return self._save(replace(fresh, criado_em=current.criado_em, atualizado_em=now_iso(),
                                      geracao=current.geracao))

    def update(self, meter_id: str, **changes: Any) -> Meter:
        with self._lock:
            current = self.get(meter_id)
            changed = replace(current, **changes, atualizado_em=now_iso())
            self._check_blip_id(changed)
            return self._save(changed)

    def _check_blip_id(self, meter: Meter) -> None:
        """Conflict when another meter already has `meter`'s blip id (called under the lock)."""
        if meter.id_blip is None:
            return
        for other in self._meters.values():
            if other.id_blip == meter.id_blip and other.id != meter.id:
                raise Conflict(f"id_blip {meter.id_blip} já é do medidor {other.id}")

    def _save(self, meter: Meter) -> Meter:
        atomic(self._docs, lambda tables: tables.upsert(METERS, "id", meter.to_doc()))
        self._store(meter)
        return meter

    def replace_keys(self, meter_id: str, roles: Sequence[Role] = METER_ROLES) -> NewMeterKeys:
        """New keys of `roles` for the meter; the ones they replace stop working once the new
        ones are stored (one write). NotFound for an unknown meter."""
        keys, key_docs = self._keys.issue(meter_id, roles)
        self._change_keys(meter_id, roles, key_docs)
        return keys

    def key_list(self, meter_id: str) -> list[dict[str, Any]]:
        return self._keys.meter_keys(meter_id)

    def revoke_keys(self, meter_id: str, roles: Sequence[Role]) -> None:
        """The meter's keys of `roles` stop working, none replaces them (admin makes new ones)."""
        self._change_keys(meter_id, roles, [])

    def _change_keys(self, meter_id: str, roles: Sequence[Role], key_docs: list[dict[str, Any]]) -> None:
        values = {role.value for role in roles}

        def change(tables: Tables) -> None:
            for old in tables.rows(KEYS):
                if old.get("medidor") == meter_id and old["papel"] in values:
                    tables.remove(KEYS, "hash", old["hash"])
            for doc in key_docs:
                tables.insert(KEYS, doc)

        with self._lock:  # the meter cannot be deleted meanwhile and leave keys behind
            self.get(meter_id)
            atomic(self._docs, change)
            self._keys.revoke_meter(meter_id, roles)
            self._keys.adopt(key_docs)

    def delete(self, meter_id: str, also: Callable[[Tables], None]) -> Meter:
        """Remove the meter, its keys and whatever `also` removes, in one write, and record the
        generation its id's next incarnation gets. Returns the meter as it was."""
        with self._lock:
            meter = self.get(meter_id)

            def change(tables: Tables) -> None:
                tables.remove(METERS, "id", meter_id)
                tables.remove(KEYS, "medidor", meter_id)
                tables.upsert(GENERATIONS, "id", {"id": meter_id, "proxima": meter.geracao + 1})
                also(tables)

            atomic(self._docs, change)
            self._meters.pop(meter_id, None)  # a refresh from shared documents may have dropped it
            self._sorted = None
        self._keys.revoke_meter(meter_id)
        return meter
