"""Backups of a server's files, taken while it runs and ingests, and their restoration.

The cut: the documents' lock is taken first (as every writer that also touches readings takes
it), then the readings' lock; inside both, the committed db.json text and a memory copy of every
stream's readings are taken. Nothing can change either store in between, so the backup is the
state of one instant: every invoice computed from it is the invoice the source gave then. The
copy is written afterwards, outside the locks, so ingest waits only for the memory copy.

A backup is a folder:

    manifesto.json               format, when, readings per stream (checked on restore)
    db.json                      the documents as they were committed
    db.leituras/segment-0000000001.seg   every reading, as one compacted segment
    db.leituras/deleted-streams  the deleted stream keys (if any)
    db.pulsos/<stream>/…         pulse meters' blinks, their files as written (if any)
    db.eventos/eventos.jsonl     energy-sensors' events (if any)

Blinks and events are copied right after that instant, each under its own store's lock: they
may hold a few blinks of readings that came after it, which the blink store's watermark then
keeps from being stored twice when the agent sends those readings again.

It is written under a temporary name and renamed whole, so a folder with the backup's name is
always complete. `servidor exportar --db PASTA/db.json` reads it as any server's files.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

from shared.durable import fsync_dir, write_atomic

from .blinks import BlinkStore
from .documents import DocumentStore
from .errors import StoreError
from .readings import ReadingStore
from .readings.block import Columns
from .readings.codec import HEADER_SIZE, SEGMENT_MAGIC, SEGMENT_VERSION, file_header
from .readings.deleted import DELETED_NAME, encode_deleted
from .readings.files import DirectoryLock, scan, segment_path
from .readings.segment_codec import SegmentMeter, encode_segment

MANIFEST = "manifesto.json"
DOCUMENTS = "db.json"
READINGS = "db.leituras"
BLINKS = "db.pulsos"
EVENTS = "db.eventos"
EVENTS_FILE = "eventos.jsonl"
# Version of the backup folder's layout: a newer one is refused by `restaurar`, not misread.
BACKUP_FORMAT = 1
PARTIAL = ".parcial"


class BackupError(StoreError):
    """A backup that cannot be made or restored; the message says why, in pt-BR."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    documents: str | None
    streams: dict[str, Columns]
    deleted: frozenset[str]
    taken_at: float
    # Paths inside the backup folder ("db.pulsos/m/blocos.dat") → bytes, and what they hold.
    side_files: tuple[tuple[str, bytes], ...] = ()
    blinks: tuple[tuple[str, int], ...] = ()
    events: int | None = None

    @property
    def readings(self) -> int:
        return sum(len(c) for c in self.streams.values())


def take(docs: DocumentStore, store: ReadingStore, blinks=None, events=None) -> Snapshot:
    """Both stores at one instant (documents' lock, then readings'), then the files of the blink
    and event stores (`BlinkStore`, `EventStore`) when given."""
    snapshot = docs.frozen(lambda text: Snapshot(text, *store.snapshot(), time.time()))
    files: list[tuple[str, bytes]] = []
    counts: dict[str, int] = {}
    if blinks is not None:
        images, counts = blinks.file_images()
        files += [(f"{BLINKS}/{name}", data) for name, data in images.items()]
    lines = events.file_image() if events is not None else None
    if lines is not None:
        files.append((f"{EVENTS}/{EVENTS_FILE}", lines))
    return replace(snapshot, side_files=tuple(files), blinks=tuple(sorted(counts.items())),
                   events=None if lines is None else lines.count(b"\n"))


def write(snapshot: Snapshot, destination: Path, durable: bool = True) -> Path:
    """Write `snapshot` as a backup folder at `destination`, which must not exist (or be an empty
    folder). BackupError otherwise, or when the disk refuses; nothing is left half-written."""
    destination = Path(destination)
    if destination.exists() and not (destination.is_dir() and not any(destination.iterdir())):
        raise BackupError(f"{destination} já existe e não está vazia: escolha uma pasta nova")
    partial = destination.with_name(f".{destination.name}.{os.getpid()}{PARTIAL}")
    try:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(mode=0o700)  # db.json holds the keys' hashes: the owner's eyes only
        (partial / READINGS).mkdir()
        write_atomic(partial / DOCUMENTS, (snapshot.documents or "").encode("utf-8"), durable=durable)
        _write_segment(segment_path(partial / READINGS, 1), snapshot.streams, durable)
        if snapshot.deleted:
            write_atomic(partial / READINGS / DELETED_NAME, encode_deleted(sorted(snapshot.deleted)), durable=durable)
        for relative, data in snapshot.side_files:
            (partial / relative).parent.mkdir(parents=True, exist_ok=True)
            write_atomic(partial / relative, data, durable=durable)
        manifest = {
            "formato": BACKUP_FORMAT,
            "criado_em": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(snapshot.taken_at)),
            "leituras": {key: len(cols) for key, cols in sorted(snapshot.streams.items())},
            "total": snapshot.readings,
            "pulsos": dict(snapshot.blinks),
        }
        if snapshot.events is not None:
            manifest["eventos"] = snapshot.events
        write_atomic(partial / MANIFEST, json.dumps(manifest, indent=1).encode(), durable=durable)
        if destination.exists():
            destination.rmdir()
        os.rename(partial, destination)
        if durable:
            fsync_dir(destination.parent)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise BackupError(f"não foi possível gravar o backup em {destination}: {exc.strerror or exc}") from exc
    return destination


def _write_segment(path: Path, streams: dict[str, Columns], durable: bool) -> None:
    """One segment, meter by meter (one meter's frames in memory at a time)."""
    with path.open("wb") as out:
        out.write(file_header(SEGMENT_MAGIC, SEGMENT_VERSION))
        for key in sorted(streams):
            out.write(encode_segment([SegmentMeter(key, False, streams[key])])[HEADER_SIZE:])
        out.flush()
        if durable:
            os.fsync(out.fileno())


# -- restore ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Restored:
    readings: int
    created_at: str
    set_aside: tuple[Path, ...]


def read_manifest(origin: Path) -> dict:
    try:
        manifest = json.loads((origin / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{origin} não é um backup: falta {MANIFEST} (faça-o com `servidor backup`)") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{origin / MANIFEST} ilegível: {exc}") from exc
    version = manifest.get("formato") if isinstance(manifest, dict) else None
    if not isinstance(version, int) or version > BACKUP_FORMAT:
        raise BackupError(f"backup de formato {version}, mais novo que este programa ({BACKUP_FORMAT}): "
                          "atualize o monitor-energia")
    return manifest


def restore(origin: Path, db: Path, readings: Path, durable: bool = True,
            blinks: Path | None = None, events: Path | None = None) -> Restored:
    """Put the backup in `origin` in place of the server files `db` and `readings`, and of the
    blink and event folders `blinks` and `events` when the backup has them (the server stopped:
    StoreLocked otherwise). What was there is set aside beside them, never deleted; the restored
    readings and blinks are then opened and counted against the manifest. Running it again
    after a crash midway finishes the job."""
    origin = Path(origin)
    manifest = read_manifest(origin)
    source_docs, source_readings = origin / DOCUMENTS, origin / READINGS
    if not source_docs.is_file() or not source_readings.is_dir():
        raise BackupError(f"{origin} está incompleto: faltam {DOCUMENTS} ou {READINGS}/")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside: list[Path] = []
    readings.mkdir(parents=True, exist_ok=True)
    lock = DirectoryLock(readings, durable)
    try:
        journals, segments = scan(readings, remove_temps=True)
        old = [*journals.values(), *segments.values()]
        if (readings / DELETED_NAME).exists():
            old.append(readings / DELETED_NAME)
        if old:
            folder = readings.with_name(f"{readings.name}.antes-{stamp}")
            folder.mkdir()
            for path in old:
                os.rename(path, folder / path.name)
            aside.append(folder)
        if db.exists() and db.stat().st_size:
            kept = db.with_name(f"{db.name}.antes-{stamp}")
            shutil.copy2(db, kept)
            aside.append(kept)
        journals, segments = scan(source_readings)
        wanted = [*journals.values(), *segments.values(), source_readings / DELETED_NAME]
        for path in wanted:
            if path.exists():
                write_atomic(readings / path.name, path.read_bytes(), durable=durable)
        for name, target, counted in ((BLINKS, blinks, "pulsos"), (EVENTS, events, "eventos")):
            if target is not None and counted in manifest:
                aside += _replace_folder(origin / name, target, stamp, durable)
        write_atomic(db, source_docs.read_bytes(), durable=durable)  # last: it makes the readings mean something
        if durable:
            fsync_dir(readings)
    except OSError as exc:
        raise BackupError(f"a restauração parou ({exc.strerror or exc}); nada foi apagado: rode o comando de novo") from exc
    finally:
        lock.release()
    with ReadingStore.open(readings, durable=durable) as store:
        counts = {key: store.count(key) for key in manifest.get("leituras", {})}
    wrong = {key: (n, counts[key]) for key, n in manifest.get("leituras", {}).items() if counts[key] != n}
    if blinks is not None and manifest.get("pulsos"):
        store = BlinkStore.open(blinks)
        try:
            wrong |= {f"pulsos {key}": (n, store.count(key)) for key, n in manifest["pulsos"].items()
                      if store.count(key) != n}
        finally:
            store.close()
    if events is not None and "eventos" in manifest:
        path = events / EVENTS_FILE
        lines = path.read_bytes().count(b"\n") if path.exists() else 0
        if lines != manifest["eventos"]:
            wrong["eventos"] = (manifest["eventos"], lines)
    if wrong:
        raise BackupError(f"o backup restaurado não confere com o manifesto: {wrong}")
    return Restored(sum(counts.values()), str(manifest.get("criado_em")), tuple(aside))


def _replace_folder(source: Path, target: Path, stamp: str, durable: bool) -> list[Path]:
    """Set `target` aside (if it holds anything) and put a copy of `source` (if any) in its place;
    the folder set aside, in a list. Again after a crash: the copy is made anew."""
    aside: list[Path] = []
    if target.exists() and any(target.iterdir()):
        kept = target.with_name(f"{target.name}.antes-{stamp}")
        os.rename(target, kept)
        aside.append(kept)
    elif target.exists():
        shutil.rmtree(target)
    if source.is_dir():
        partial = target.with_name(f".{target.name}{PARTIAL}")
        shutil.rmtree(partial, ignore_errors=True)
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            (partial / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            write_atomic(partial / path.relative_to(source), path.read_bytes(), durable=durable)
        os.rename(partial, target)
        if durable:
            fsync_dir(target.parent)
    return aside

