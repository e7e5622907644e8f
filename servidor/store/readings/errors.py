"""The readings store's errors, under the storage layer's root `StoreError`."""
from __future__ import annotations

from dataclasses import dataclass

from servidor.store.errors import StoreError

# The command that repairs damaged files, named in every message about them.
REPAIR_COMMAND = "servidor reparar"
# A message lists this many damaged places and counts the rest.
MAX_LISTED_DAMAGES = 10


class ReadingStoreError(StoreError):
    """Any failure of the readings store: closed store, bad files, refused streams."""


class StoreCorrupt(ReadingStoreError):
    """A store file that cannot be read: wrong magic, bad checksum, truncated segment, or a
    format version newer than this program's (the message then says "mais nova")."""


class StoreLocked(ReadingStoreError):
    """Another process already has this store directory open."""


class InvalidMeterId(ReadingStoreError, ValueError):
    """A meter id that cannot be stored (empty, or longer than the record format allows)."""


class StreamDeleted(ReadingStoreError):
    """The stream key was deleted: it is dead forever, and appends to it store nothing."""

    def __init__(self, key: str) -> None:
        super().__init__("o medidor destas leituras foi apagado: elas não são mais aceitas", key)
        self.key = key


@dataclass(frozen=True, slots=True)
class Damage:
    """Bytes of a store file that hold no intact record. `lost` says in pt-BR what they
    probably held (a damaged record cannot vouch for its own content)."""

    file: str
    offset: int
    length: int
    lost: str

    def describe(self) -> str:
        return f"{self.file}, deslocamento {self.offset}: {self.length} bytes danificados ({self.lost})"


class StoreDamaged(StoreCorrupt):
    """Damage inside a journal, a segment or the deleted-streams file: the store refuses to
    open rather than silently drop what follows it. Nothing was changed on disk."""

    def __init__(self, damages: list[Damage]) -> None:
        listed = "; ".join(d.describe() for d in damages[:MAX_LISTED_DAMAGES])
        more = len(damages) - MAX_LISTED_DAMAGES
        if more > 0:
            listed += f"; e mais {more} trecho(s)"
        super().__init__(
            "leituras danificadas no disco",
            f"{listed}. Nada foi alterado. `{REPAIR_COMMAND}` guarda os originais de lado, mantém todo "
            "registro íntegro (também os que vêm depois do dano) e escreve um relatório",
        )
        self.damages = tuple(damages)
