"""The agent's small persistent state: its keys, the next seq, and this month's counter base.

Kept in `estado.json`, rewritten whole through a temp file + fsync + os.replace, so a crash
leaves either the old or the new file, never a torn one. The spool (spool.py) is the authority
on which seqs were used; `proximo_seq` here is a floor that survives a deleted spool.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from shared.durable import write_atomic

STATE_FILE = "estado.json"
_VERSION = 1


class StateError(Exception):
    """The state file is unreadable or belongs to another meter; the message says what to do."""


@dataclass(frozen=True, slots=True)
class AgentState:
    medidor: str
    servidor: str = ""
    chave_escrita: str | None = None
    chave_leitura: str | None = None
    proximo_seq: int = 0
    # Local month ("2026-11") whose consumption is measured from `inicio_mes_wh`.
    mes: str | None = None
    inicio_mes_wh: float | None = None
    # The month whose local limit alert was already shown (shown once per month).
    alerta_mes: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.medidor, str) or not self.medidor:
            raise StateError("estado sem o id do medidor")
        if isinstance(self.proximo_seq, bool) or not isinstance(self.proximo_seq, int) or self.proximo_seq < 0:
            raise StateError("proximo_seq inválido no estado")

    @property
    def registered(self) -> bool:
        return bool(self.chave_escrita)

    def but(self, **changes: Any) -> "AgentState":
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return {"versao": _VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, doc: Any) -> "AgentState":
        if not isinstance(doc, dict):
            raise StateError("o estado deve ser um objeto JSON")
        if doc.get("versao") != _VERSION:
            raise StateError(f"estado gravado por outra versão do medidor (versao={doc.get('versao')!r})")
        if not doc.get("medidor"):
            raise StateError("estado sem o id do medidor")
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in doc.items() if k in known})
        except TypeError as exc:
            raise StateError(f"estado inválido: {exc}") from None


class StateFile:
    """`estado.json` in the agent's state directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / STATE_FILE

    def load(self) -> AgentState | None:
        """The saved state, or None when the agent never ran here."""
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"não foi possível ler {self.path}: {exc}") from exc
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise StateError(f"{self.path} não é JSON válido ({exc}); restaure-o de um backup ou apague-o "
                             "para registrar o medidor de novo") from None
        return AgentState.from_json(doc)

    def save(self, state: AgentState) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        # 0600: the keys are secrets, readable by the agent's user only.
        text = json.dumps(state.to_json(), ensure_ascii=False, indent=2)
        write_atomic(self.path, text.encode("utf-8"), mode=0o600)
