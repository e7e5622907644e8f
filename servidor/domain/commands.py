"""Remote commands for a meter agent, queued here and handed over in the answer to its next
reading (Tesla Analyzer's PAUSE/RESUME, and 004's wish to change consumption remotely)."""
from __future__ import annotations

import math
import threading
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from servidor.domain.meters import MeterRegistry, now_iso
from servidor.errors import InvalidInput
from servidor.store.documents import DocumentStore

COMMANDS = "comandos"
NEEDS_VALUE = {"multiplicador", "limite"}
VERBS = ("pausar", "retomar", "multiplicador", "limite")
# A meter offline for long could pile up commands; only the latest few matter.
MAX_PENDING = 50


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
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise InvalidInput(f"o comando {verb} precisa de um valor numérico > 0")
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
        with self._lock:
            pending = self._pending.setdefault(meter_id, [])
            pending.append(command)
            for dropped in pending[:-MAX_PENDING]:
                self._docs.delete(COMMANDS, "id", dropped.id)
            del pending[:-MAX_PENDING]
            self._docs.upsert(COMMANDS, "id", command.to_json())
        return command

    def take(self, meter_id: str) -> list[Command]:
        """Hand over and forget the meter's pending commands (cheap when there are none)."""
        if not self._pending.get(meter_id):
            return []
        with self._lock:
            taken = self._pending.pop(meter_id, [])
            if taken:
                self._docs.delete(COMMANDS, "medidor", meter_id)
        return taken

    def pending(self, meter_id: str) -> list[Command]:
        with self._lock:
            return list(self._pending.get(meter_id, []))

    def forget_meter(self, meter_id: str) -> None:
        with self._lock:
            self._pending.pop(meter_id, None)
            self._docs.delete(COMMANDS, "medidor", meter_id)
