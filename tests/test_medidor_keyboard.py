"""Keys from a real pseudo-terminal; the terminal mode is restored when the reader stops."""
from __future__ import annotations

import os
import termios
import threading

from medidor import keyboard
from tests.medidor_harness import WAIT_S, wait_for


def test_keys_arrive_one_by_one_and_the_terminal_is_restored() -> None:
    master, slave = os.openpty()
    stream = os.fdopen(slave, "r")
    try:
        before = termios.tcgetattr(slave)
        assert keyboard.available(stream)
        keys: list[str] = []
        three = threading.Event()

        def on_key(key: str) -> None:
            keys.append(key)
            if len(keys) == 3:
                three.set()

        reader = keyboard.Keyboard(on_key, stream)
        reader.start()
        # Switching to cbreak flushes pending input (TCSAFLUSH): type only once it is on.
        wait_for(lambda: not termios.tcgetattr(slave)[3] & termios.ICANON, "cbreak mode")
        os.write(master, b"+p-")  # no Enter: cbreak mode delivers each key
        assert three.wait(WAIT_S)
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
