"""A simulated Arduino pulse counter (blipserver firmware) on a pseudo-terminal."""
from __future__ import annotations

import time
from typing import Callable

from ..pulses import WRAP_MS
from .pty_peer import PtyPeer
from .meter import Profile


class PulseEmitter:
    """Writes "<ms>\\n" (or "<sensor> <ms>\\n") each time the profile's energy reaches one blink.

    ms is the time since the previous blink modulo 65536, like the reference firmware's 16-bit
    counter. Export (negative power) makes no blinks: an LED meter blinks for import only.
    `start()` returns the tty path; `stop()` is an unplug and joins the thread.
    """

    def __init__(self, profile: Profile, pulsos_por_kwh: float = 1000, *, sensor: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if pulsos_por_kwh <= 0:
            raise ValueError("pulsos_por_kwh must be positive")
        self.profile = profile
        self.wh_per_pulse = 1000.0 / pulsos_por_kwh
        self.sensor = sensor
        self.clock = clock
        self.sent = 0  # blinks written to the line
        self._pending_wh = 0.0
        self._last_t = 0.0
        self._last_blink_t = 0.0
        self._peer = PtyPeer("pulsos", lambda _data: None, self._tick)

    def start(self) -> str:
        self._last_t = self._last_blink_t = self.clock()
        return self._peer.start()

    def stop(self) -> None:
        self._peer.stop()

    def write_raw(self, data: bytes) -> int:
        """Put arbitrary bytes on the line (noise, a partial line) for tests and demos."""
        return self._peer.write(data)

    def _tick(self) -> None:
        now = self.clock()
        power = self.profile(time.time())
        self._pending_wh += max(0.0, power) * (now - self._last_t) / 3600.0
        self._last_t = now
        while self._pending_wh >= self.wh_per_pulse:
            self._pending_wh -= self.wh_per_pulse
            # The blink happened when the energy crossed the threshold, slightly before now.
            late_s = self._pending_wh / (power / 3600.0) if power > 0 else 0.0
            blink_t = max(self._last_blink_t, now - late_s)
            ms = int(round((blink_t - self._last_blink_t) * 1000)) % WRAP_MS
            self._last_blink_t = blink_t
            line = f"{ms}\n" if self.sensor is None else f"{self.sensor} {ms}\n"
            self._peer.write(line.encode("ascii"))
            self.sent += 1
