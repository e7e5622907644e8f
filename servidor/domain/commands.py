"""Remote commands for a meter agent, queued here and handed over in the answer to its next
reading (Tesla Analyzer's PAUSE/RESUME, and 004's wish to change consumption remotely)."""
from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from servidor.domain.atomic import Tables, atomic
from servidor.domain.errors import InvalidInput
from servidor.domain.meters import MAX_LIMIT_KWH, MAX_MULTIPLIER, MIN_LIMIT_KWH, now_iso
from servidor.domain.numbers import positive_within, within
from servidor.domain.registry import MeterRegistry
from servidor.store.documents import DocumentStore

COMMANDS = "comandos"
VERBS = ("pausar", "retomar", "multiplicador", "limite")
# verb → (lowest, highest) value; the bounds are the meter's own, so a command never sets what a
# PUT would refuse.
NEEDS_VALUE = {"multiplicador": (0.0, MAX_MULTIPLIER), "limite": (MIN_LIMIT_KWH, MAX_LIMIT_KWH)}
# A meter offline for long could pile up commands; only the latest few matter.
MAX_PENDING = 50
log = logging.getLogger("servidor.comandos")


@dataclass(frozen=True, slots=True)
class Command:
    id: str
    medidor: str
    comando: str
    valor: float | None
    criado_em: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_command(meter_id: str, body: Any) -> Command:
    if not isinstance(body, dict):
        raise InvalidInput("o corpo deve ser um objeto JSON com o campo comando")
    verb = body.get("comando")
    if verb not in VERBS:
        raise InvalidInput(f"comando deve ser um de: {', '.join(VERBS)}")
    value = body.get("valor")
    if verb in NEEDS_VALUE:
        low, high = NEEDS_VALUE[verb]
        ok = positive_within(value, high) if low == 0 else within(value, low, high)
        if not ok:
            raise InvalidInput(f"o comando {verb} precisa de um valor numérico > {low:g} e ≤ {high:g}")
        value = float(value)
    elif value is not None:
        raise InvalidInput(f"o comando {verb} não aceita valor")
    return Command(uuid.uuid4().hex[:12], meter_id, verb, value, now_iso())


class CommandQueue:
    """Pending commands per meter. Queueing also updates the meter's record, so the server's
    view (estado, multiplicador, limite) changes at once and the agent catches up."""

    def __init__(self, docs: DocumentStore, meters: MeterRegistry) -> None:
        self._docs = docs
        self._meters = meters
        self._lock = threading.Lock()
        self._pending: dict[str, list[Command]] = {}
        # Documents shared by several servers: the pending commands live only there, so that an
        # agent gets each command once, through whichever server it reaches.
        self._shared = bool(getattr(docs, "shared", False))
        for doc in docs.all(COMMANDS):
            self._pending.setdefault(doc["medidor"], []).append(Command(**doc))

    def queue(self, meter_id: str, body: Any) -> Command:
        self._meters.get(meter_id)
        command = parse_command(meter_id, body)
        changes = {
            "pausar": {"estado": "pausado"}, "retomar": {"estado": "ativo"},
            "multiplicador": {"multiplicador": command.valor}, "limite": {"limite_alerta_kwh": command.valor},
        }[command.comando]
        self._meters.update(meter_id, **changes)
        if self._shared:
            def shared_change(tables: Tables) -> None:
                stored = tables.matching(COMMANDS, "medidor", meter_id)
                for old in stored[:max(0, len(stored) + 1 - MAX_PENDING)]:
                    tables.remove(COMMANDS, "id", old["id"])
                tables.insert(COMMANDS, command.to_json())

            atomic(self._docs, shared_change)
            return command
        with self._lock:
            pending = self._pending.get(meter_id, []) + [command]
            dropped, kept = pending[:-MAX_PENDING], pending[-MAX_PENDING:]

            def change(tables: Tables) -> None:
                for old in dropped:
                    tables.remove(COMMANDS, "id", old.id)
                tables.insert(COMMANDS, command.to_json())

            atomic(self._docs, change)
            self._pending[meter_id] = kept
        return command

    def take(self, meter_id: str) -> list[Command]:
        """Hand over and forget the meter's pending commands (cheap when there are none).

        Handed over even if forgetting them on disk fails: the agent gets them now, and after a
        restart once more (commands set absolute values, so a repeat changes nothing)."""
        if self._shared:
            return [Command(**doc) for doc in self._docs.pop(COMMANDS, "medidor", meter_id)]
        if not self._pending.get(meter_id):
            return []
        with self._lock:
            taken = self._pending.pop(meter_id, [])
        if taken:
            try:
                atomic(self._docs, lambda tables: tables.remove(COMMANDS, "medidor", meter_id))
            except Exception:
                log.exception("comandos entregues a %s não foram apagados do banco", meter_id)
        return taken

    def pending(self, meter_id: str) -> list[Command]:
        if self._shared:
            return [Command(**doc) for doc in self._docs.matching(COMMANDS, "medidor", meter_id)]
        with self._lock:
            return list(self._pending.get(meter_id, []))

    @staticmethod
    def remove_rows(tables: Tables, meter_id: str) -> None:
        tables.remove(COMMANDS, "medidor", meter_id)

    def forget(self, meter_id: str) -> None:
        with self._lock:
            self._pending.pop(meter_id, None)
