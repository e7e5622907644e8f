"""Where the agent's log lines go: the console (above the status line in a terminal) and,
with a log folder from lector.ini, a file."""
from __future__ import annotations

import logging
from pathlib import Path

from medidor.status import Console


class _ConsoleHandler(logging.Handler):
    def __init__(self, console: Console) -> None:
        super().__init__()
        self._console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._console.message(self.format(record))
        except Exception:
            self.handleError(record)


def setup_logging(console: Console, level: str, log_dir: Path | None = None) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = _ConsoleHandler(console)
    handler.setFormatter(logging.Formatter(
        "%(levelname)s %(message)s" if console.interactive else "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_dir / "medidor.log", encoding="utf-8")
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(file_handler)
    root.setLevel(level)
    # pymodbus writes frame dumps at DEBUG; above WARNING it is only noise on a status line.
    logging.getLogger("pymodbus").setLevel(max(logging.WARNING, root.level))
    # paho's own log (packets at DEBUG) says nothing a user acts on; our messages say it.
    logging.getLogger("medidor.mqtt.paho").setLevel(max(logging.WARNING, root.level))
