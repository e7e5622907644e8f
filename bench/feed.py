"""Synthetic readings of 10-s meters, as JSON text ready to POST.

The store compresses deltas, so perfectly regular readings would flatter the bytes-per-reading
figure. These vary the way a real meter does: power follows a daily curve plus noise at 0.1 W,
the counter integrates that power in milli-Wh, and the clock jitters by up to 250 ms inside
each 10-s step. Everything derives from `seq`, so a feed is a few ints that can cross a process
boundary and continue where another process stopped.
"""
from __future__ import annotations

import math
import time
import zlib
from dataclasses import dataclass

STEP_MS = 10_000          # the agents' default interval
JITTER_MS = 250           # a meter's clock is read at slightly different moments each step
# Readings start this far in the past so that every feed, however far the benchmark pushes it,
# stays "not in the future" (the server rejects ts more than 10 min ahead): 150 days of 10-s
# steps is 1.29 M readings per meter, more than any run here sends to one meter.
HISTORY_MS = 150 * 86_400_000
_DAY_STEPS = 8_640        # 10-s steps per day: the period of the power curve
_MASK64 = 2**64 - 1


def _noise(seq: int, spread: int) -> int:
    """A repeatable pseudo-random integer in [0, spread): splitmix64's finaliser of `seq`.

    A cheaper multiplicative hash was tried first: consecutive seqs gave values in arithmetic
    progression, whose deltas the segment compressor squeezed to 0.2 bytes per reading.
    """
    x = (seq * 0x9E37_79B9_7F4A_7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58_476D_1CE4_E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D0_49BB_1331_11EB) & _MASK64
    return (x ^ (x >> 31)) % spread


@dataclass(slots=True)
class MeterFeed:
    """The next readings of one meter: `take(n)` returns them as JSON objects joined by commas."""

    meter_id: str
    key: str                  # the meter's chave_escrita, sent as Bearer
    t0_ms: int                # ts of seq 0
    seq: int = 1              # next seq to send
    energy_mwh: int = 0       # counter before `seq`, in milli-Wh
    # Each meter gets its own base load, phase and noise: identical meters would let the
    # compressor find one meter's columns repeated in the next and flatter bytes per reading.
    salt: int = 0

    @classmethod
    def new(cls, meter_id: str, key: str, now_ms: int | None = None) -> "MeterFeed":
        now = int(time.time() * 1000) if now_ms is None else now_ms
        return cls(meter_id, key, now - HISTORY_MS, salt=zlib.crc32(meter_id.encode()))

    def take(self, n: int) -> str:
        """The next `n` readings, advancing the feed; raises if they would reach the present."""
        seq, energy, t0, salt = self.seq, self.energy_mwh, self.t0_ms, self.salt << 32
        base = 1_500 + self.salt % 6_000            # 150-750 W of base load, in 0.1 W
        phase = self.salt % _DAY_STEPS
        if t0 + (seq + n) * STEP_MS > time.time() * 1000:
            raise RuntimeError(f"feed {self.meter_id} ran out of history at seq {seq}")
        parts = []
        append = parts.append
        for s in range(seq, seq + n):
            # Tenths of a watt: the base, a daily swing of ±(base/2), ±60 W of noise.
            noise = _noise(salt | s, 1 << 20)
            deciwatts = base + int(base / 2 * math.sin((s + phase) * (2 * math.pi / _DAY_STEPS))) \
                + noise % 1_201 - 600
            # P watts for 10 s = P × 10 / 3600 Wh = P × 2.777… mWh; deciwatts / 3.6 mWh.
            energy += deciwatts * 10 // 36
            append(f'{{"seq":{s},"ts":{t0 + s * STEP_MS + (noise >> 11) % JITTER_MS},'
                   f'"energia_wh":{energy // 1000}.{energy % 1000:03d},'
                   f'"potencia_w":{deciwatts // 10}.{deciwatts % 10}}}')
        self.seq, self.energy_mwh = seq + n, energy
        return ",".join(parts)

    def body(self, batch: int) -> bytes:
        """A request body: one reading as an object when `batch` is 0, else {"leituras": [...]}."""
        if batch <= 0:
            return self.take(1).encode()
        return b'{"leituras":[' + self.take(batch).encode() + b"]}"
