"""Keys from a real pseudo-terminal; the terminal mode is restored when the reader stops."""
from __future__ import annotations

import os
import termios
import time

from medidor import keyboard


def test_keys_arrive_one_by_one_and_the_terminal_is_restored() -> None:
    master, slave = os.openpty()
    stream = os.fdopen(slave, "r")
    try:
        before = termios.tcgetattr(slave)
        assert keyboard.available(stream)
        keys: list[str] = []
        reader = keyboard.Keyboard(keys.append, stream)
        reader.start()
        time.sleep(0.2)
        os.write(master, b"+p-")  # no Enter: cbreak mode delivers each key
        deadline = time.monotonic() + 10
        while len(keys) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        reader.stop()
        reader.join(5)
        assert keys == ["+", "p", "-"]
        assert termios.tcgetattr(slave) == before
    finally:
        stream.close()
        os.close(master)


def test_not_available_without_a_terminal(tmp_path) -> None:
    with open(tmp_path / "f", "w+") as f:
        assert not keyboard.available(f)
