"""The spool's one exception root and the damage report a person acts on."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# The command that keeps every intact record and drops only the damaged bytes (repair.py).
REPAIR_COMMAND = "medidor reparar"


class SpoolError(Exception):
    """The spool cannot be used (unreadable directory, in use, a file from a newer version)."""


class SpoolFull(SpoolError):
    """The records do not fit under the bound; none of them was appended."""


@dataclass(frozen=True, slots=True)
class Damage:
    """Bytes of a segment (or a whole segment) that hold no readable record."""

    path: Path
    offset: int
    end: int          # the first byte after the damaged span
    reason: str       # pt-BR: "CRC não confere", "segmento ausente", …

    @property
    def size(self) -> int:
        return self.end - self.offset


@dataclass(frozen=True, slots=True)
class DamageReport:
    """What opening the spool found: the damaged spans and the readings at stake."""

    directory: Path
    damage: tuple[Damage, ...]
    intact_before: int    # pending records before the first damaged span
    intact_after: int     # pending records after it: what a truncation would throw away
    lost_estimate: int    # records the damaged bytes probably held (by the average record size)

    def describe(self) -> str:
        first = self.damage[0]
        where = f"{first.path}, posição {first.offset}"
        span = f"{first.size} bytes ilegíveis" if first.size else "arquivo inteiro"
        more = f"; e mais {len(self.damage) - 1} trecho(s) danificado(s)" if len(self.damage) > 1 else ""
        return (
            f"spool danificado em {where}: {first.reason} ({span}){more}. "
            f"Em jogo: {self.intact_after} leituras intactas depois do dano e {self.intact_before} antes dele "
            f"esperam o servidor; o trecho danificado tinha cerca de {self.lost_estimate}. "
            "Nada foi apagado e o agente não inicia, para não descartar as intactas nem repetir números de "
            f"sequência. Para guardar todas as intactas e continuar: {REPAIR_COMMAND} {self.directory}"
        )


class SpoolDamaged(SpoolError):
    """Bytes that were durable no longer read back: the spool refuses to be used until repaired."""

    def __init__(self, report: DamageReport) -> None:
        super().__init__(report.describe())
        self.report = report
