"""The tariff book: tariffs by id in the document store, with 004's price as the default."""
from __future__ import annotations

import threading
from typing import Any

from servidor.billing.tariffs import DEFAULT_TARIFF, Tarifa
from servidor.domain.errors import Conflict, InvalidInput, NotFound
from servidor.store.documents import DocumentStore

TARIFFS = "tarifas"


class TariffBook:
    def __init__(self, docs: DocumentStore) -> None:
        self._docs = docs
        self._lock = threading.Lock()
        self._tariffs: dict[str, Tarifa] = {}
        for doc in docs.all(TARIFFS):
            tariff = Tarifa.from_json(doc, id=doc.get("id"))
            self._tariffs[tariff.id] = tariff
        if DEFAULT_TARIFF.id not in self._tariffs:
            self._save(DEFAULT_TARIFF)

    def get(self, tariff_id: str) -> Tarifa:
        tariff = self._tariffs.get(tariff_id)
        if tariff is None:
            raise NotFound(f"tarifa {tariff_id} não existe")
        return tariff

    def for_meter(self, tariff_id: str) -> Tarifa:
        """A meter whose tariff was deleted is billed at the default rather than not at all."""
        return self._tariffs.get(tariff_id) or self._tariffs[DEFAULT_TARIFF.id]

    def exists(self, tariff_id: str) -> bool:
        return tariff_id in self._tariffs

    def all(self) -> list[Tarifa]:
        return sorted(self._tariffs.values(), key=lambda t: t.id)

    def create(self, body: Any) -> Tarifa:
        tariff = _parse(body, None)
        with self._lock:
            if tariff.id in self._tariffs:
                raise Conflict(f"já existe uma tarifa com id {tariff.id}")
            return self._save(tariff)

    def replace(self, tariff_id: str, body: Any) -> Tarifa:
        with self._lock:
            self.get(tariff_id)
            return self._save(_parse(body, tariff_id))

    def delete(self, tariff_id: str) -> None:
        if tariff_id == DEFAULT_TARIFF.id:
            raise Conflict("a tarifa padrão não pode ser apagada; altere-a com PUT")
        with self._lock:
            self.get(tariff_id)
            self._docs.delete(TARIFFS, "id", tariff_id)
            del self._tariffs[tariff_id]

    def _save(self, tariff: Tarifa) -> Tarifa:
        self._docs.upsert(TARIFFS, "id", tariff.to_json())
        self._tariffs[tariff.id] = tariff
        return tariff


def _parse(body: Any, tariff_id: str | None) -> Tarifa:
    if not isinstance(body, dict):
        raise InvalidInput("o corpo deve ser um objeto JSON")
    try:
        return Tarifa.from_json(body, id=tariff_id)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
