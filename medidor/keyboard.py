"""Keys while the agent runs in a terminal: `+` and `-` raise and lower consumption, `p` pauses.

Only when stdin is a terminal. The terminal goes to cbreak mode (keys arrive one by one, without
Enter; Ctrl+C still sends SIGINT) and is restored when the thread stops, whatever happens.
"""
from __future__ import annotations

import logging
import os
import select
import sys
import threading
from typing import Callable, TextIO

log = logging.getLogger("medidor.teclado")

# How often the reader looks at its stop flag while no key is pressed.
_POLL_S = 0.2
HELP = "teclas: + aumenta o consumo, - diminui, p pausa/retoma, Ctrl+C sai"


def available(stream: TextIO | None = None) -> bool:
    stream = stream or sys.stdin
    try:
        import termios  # noqa: F401  (POSIX only)
    except ImportError:
        return False
    try:
        return stream.isatty()
    except ValueError:  # a closed stdin
        return False


class Keyboard:
    """Owns one thread reading keys; `start`, then `stop` + `join` (which restores the terminal)."""

    def __init__(self, on_key: Callable[[str], None], stream: TextIO | None = None) -> None:
        self._on_key = on_key
        self._fd = (stream or sys.stdin).fileno()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="teclado", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        import termios
        import tty

        saved = termios.tcgetattr(self._fd)
        try:
            tty.setcbreak(self._fd)
            while not self._stop.is_set():
                ready, _, _ = select.select([self._fd], [], [], _POLL_S)
                if not ready:
                    continue
                data = os.read(self._fd, 32)
                if not data:
                    return  # end of input: nothing more will come
                for key in data.decode("utf-8", "ignore"):
                    try:
                        self._on_key(key)
                    except Exception:
                        log.exception("erro ao tratar a tecla %r", key)
        except OSError as exc:
            log.warning("teclado desligado: %s", exc)
        finally:
            termios.tcsetattr(self._fd, termios.TCSADRAIN, saved)
