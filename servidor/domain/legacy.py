"""The meters of system 004, kept as they post: `db[id] = payload`, with bounds 004 never had.

004's meter posts its whole state (growing history included) with no key, so these routes are
open to anyone who can reach the server. The bounds keep what anyone can store, and what `GET /`
hands to anyone, small: at most MAX_METERS meters of at most MAX_PAYLOAD_BYTES each. 004's own
server read one `recv(4092)` and broke at about 66 history entries; 64 KiB is sixteen times
that. These meters live in their own table: a legacy route never reads or writes a native meter.
On a database shared by several servers they are read from it on every request (they are few
and small), so a meter posted through one server is read through any.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from servidor.domain.atomic import Tables, atomic
from servidor.domain.errors import Conflict, Full, InvalidInput, NotFound, TooLarge
from servidor.domain.freshness import is_shared
from servidor.domain.meters import now_iso
from servidor.store.documents import DocumentStore

LEGACY = "legado"
MAX_PAYLOAD_BYTES = 64 * 1024
MAX_METERS = 64
# 004's payload is an object of scalars and a list of small objects: depth 3.
MAX_DEPTH = 32


def _depth_within(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
    return True


class LegacyMeters:
    def __init__(self, docs: DocumentStore, is_native: Callable[[str], bool]) -> None:
        self._docs = docs
        self._is_native = is_native
        self._lock = threading.Lock()
        self._shared = is_shared(docs)
        self._records: dict[str, dict[str, Any]] = {d["id"]: d for d in docs.all(LEGACY)}

    def _current(self) -> dict[str, dict[str, Any]]:
        """Every record: as stored now, when other servers share the documents."""
        if self._shared:
            self._records = {d["id"]: d for d in self._docs.all(LEGACY)}
        return self._records

    def store(self, meter_id: str, payload: Any, size: int) -> dict[str, Any]:
        """Keep `payload` (`size` bytes as sent) as the meter's state; the stored record."""
        if self._is_native(meter_id):
            raise Conflict(f"{meter_id} é um medidor da API /api/v1: a rota antiga não pode alterá-lo",
                           code="medidor_nativo")
        if size > MAX_PAYLOAD_BYTES:
            raise TooLarge(f"o medidor antigo enviou {size} bytes; o máximo guardado é {MAX_PAYLOAD_BYTES}",
                           code="corpo_grande_demais")
        if not isinstance(payload, dict):
            raise InvalidInput("o corpo deve ser um objeto JSON")
        if not _depth_within(payload, MAX_DEPTH):
            raise InvalidInput(f"o JSON tem mais de {MAX_DEPTH} níveis")
        record = {"id": meter_id, "dados": payload, "recebido_em": now_iso()}

        def change(tables: Tables) -> None:
            if tables.find(LEGACY, "id", meter_id) is None and len(tables.rows(LEGACY)) >= MAX_METERS:
                raise Full(f"o servidor guarda no máximo {MAX_METERS} medidores antigos; apague um com DELETE /<id>")
            tables.upsert(LEGACY, "id", record)

        with self._lock:
            atomic(self._docs, change)
            self._records[meter_id] = record
        return record

    def get(self, meter_id: str) -> dict[str, Any]:
        record = self._docs.get(LEGACY, "id", meter_id) if self._shared else self._records.get(meter_id)
        if record is None:
            raise NotFound(f"medidor {meter_id} não encontrado")
        return record["dados"]

    def delete(self, meter_id: str) -> None:
        def change(tables: Tables) -> None:
            if not tables.remove(LEGACY, "id", meter_id):
                raise NotFound(f"medidor {meter_id} não encontrado")

        with self._lock:
            atomic(self._docs, change)
            self._records.pop(meter_id, None)

    def everything(self) -> dict[str, Any]:
        """004's `GET /`: every meter's payload by id (bounded by MAX_METERS × MAX_PAYLOAD_BYTES)."""
        return {k: v["dados"] for k, v in sorted(self._current().items())}

    def totals(self) -> list[dict[str, Any]]:
        """Legacy meters as the native API lists them (both generations of 004's keys)."""
        out = []
        for meter_id, record in sorted(self._current().items()):
            data = record["dados"]
            out.append({
                "id": meter_id, "legado": True,
                "consumo_atual_kwh": data.get("consumo_atual_kWh"),
                "consumo_total_kwh": data.get("consumo_total_kWh"),
                "valor_fatura": data.get("Valor_da_Fatura", data.get("fatura_a_pagar")),
                "alerta": data.get("alerta") or None,
                "atualizado_em": record["recebido_em"],
            })
        return out
