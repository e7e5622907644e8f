"""Tesla Analyzer's `localFile` export: one text file per analyzer and local day,
`<target>/<analyzer>/YYYYMMDD.txt`, a header `HORA\\tTPF0\\tTPF1…` and one row per recorded period
`HH:MM:SS\\t%9.2f\\t%9.2f…`.

Every value is a column named by its code and its index (`TPF0`-`TPF2`, `PAT0`), as Tesla kept
every code as a list. The header is the first period's columns; a later period (after a RELOAD
changed the codes) writes the header's columns only, `-` where it has no value.

A row is one `write` of the whole line to a file opened for appending, then fsynced. A line cut
by a power failure is removed when the file is next opened, and a period already the file's last
row (written, then the agent stopped before it could note it) is not written twice.
"""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Mapping, Sequence

from shared.durable import fsync_dir

Values = Mapping[str, float | tuple[float, ...]]
MISSING = "-"


def columns(values: Values, order: Sequence[str] | None) -> list[str]:
    """The columns of a period: its codes in the requested order (sorted without one)."""
    codes = [c for c in order if c in values] if order else sorted(values)
    out = []
    for code in codes:
        value = values[code]
        count = len(value) if isinstance(value, tuple) else 1
        out += [f"{code}{i}" for i in range(count)]
    return out


def header(names: Sequence[str]) -> str:
    return "HORA" + "".join(f"\t{name}" for name in names) + "\n"


def row(moment: datetime, names: Sequence[str], values: Values) -> str:
    flat: dict[str, float] = {}
    for code, value in values.items():
        for i, number in enumerate(value if isinstance(value, tuple) else (value,)):
            flat[f"{code}{i}"] = number
    cells = "".join(f"\t{flat[name]:9.2f}" if name in flat else f"\t{MISSING:>9}" for name in names)
    return f"{moment:%H:%M:%S}{cells}\n"


class LocalFile:
    """Appends periods to `<directory>/YYYYMMDD.txt` by the period's local date."""

    def __init__(self, directory: Path, order: Sequence[str] | None = None) -> None:
        self.directory = Path(directory)
        self.order = tuple(order) if order else None
        self._day: str | None = None
        self._names: list[str] | None = None
        self._last_time: str | None = None

    def path_for(self, moment: datetime) -> Path:
        return self.directory / f"{moment:%Y%m%d}.txt"

    def write(self, moment: datetime, values: Values) -> bool:
        """Append the period stamped `moment` (local time); False if it is already the last row.
        Raises OSError with nothing torn left behind."""
        path = self.path_for(moment)
        if self._day != path.name:
            self._open_day(path)
        stamp = f"{moment:%H:%M:%S}"
        if stamp == self._last_time:
            return False
        new_file = self._names is None
        if self._names is None:
            self._names = columns(values, self.order)
        line = row(moment, self._names, values)
        data = (header(self._names) + line if new_file else line).encode("ascii")
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            start = os.lseek(fd, 0, os.SEEK_END)
            try:
                written = os.write(fd, data)
                if written != len(data):
                    raise OSError(f"gravação parcial em {path} ({written} de {len(data)} bytes)")
                os.fsync(fd)
            except OSError:
                os.ftruncate(fd, start)  # a full disk leaves no partial line behind
                if new_file:
                    self._names = None
                raise
        finally:
            os.close(fd)
        if new_file:
            fsync_dir(self.directory)
        self._last_time = stamp
        return True

    def _open_day(self, path: Path) -> None:
        """Read the day's header and last row; cut a torn last line."""
        self._day, self._names, self._last_time = path.name, None, None
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n") + 1
        if end < len(data):
            with open(path, "r+b") as handle:
                handle.truncate(end)
                os.fsync(handle.fileno())
            data = data[:end]
        lines = data.decode("ascii", errors="replace").splitlines()
        if not lines:
            return
        self._names = lines[0].split("\t")[1:]
        if len(lines) > 1:
            self._last_time = lines[-1].split("\t", 1)[0]
