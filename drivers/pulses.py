"""The Arduino pulse counter (blipserver, docs/protocolos.md §3): "<ms>\\n" or "<id> <ms>\\n" per LED blink.

Each blink is 1/N kWh, so the energy counter is exact whatever happens to the intervals; the
interval only gives power: 3600·1000·1000 / (N·ms) W over [stamp − ms, stamp]. The reference
firmware counts ms in 16 bits, so an interval over 65.5 s arrives modulo 65536; the host's own
clock between arrivals tells how many wraps were lost.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from .base import DeviceConfig, DeviceDisconnected, DeviceError, Sample
from .serial_port import PORT_ERRORS, close_quietly, disconnected, open_serial

log = logging.getLogger(__name__)

WRAP_MS = 1 << 16  # the reference firmware's 16-bit millisecond counter
# A line is a few digits; anything longer without LF is noise (or two lines fused by a glitch).
MAX_LINE_BYTES = 32
# The bytes of one line arrive within milliseconds; a fragment older than this was cut off
# (Arduino reset, loose cable) and must not be glued to the next line's digits.
PARTIAL_LINE_TIMEOUT_MS = 2000
# Points kept for the next read(); at one blink per 0.1 s (36 kW at N=1000) this is 10 minutes
# of an agent that stopped reading. Older points are dropped, the energy counter is not.
MAX_PENDING_POINTS = 6000
MS_PER_HOUR = 3_600_000


@dataclass(frozen=True, slots=True)
class PulseLine:
    sensor: str | None
    ms: int


def parse_pulse_line(line: bytes) -> PulseLine | None:
    """One complete line (without LF) to its sensor id and interval; None for anything else."""
    try:
        text = line.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    parts = text.split()
    if len(parts) == 1:
        sensor, number = None, parts[0]
    elif len(parts) == 2:
        sensor, number = parts
    else:
        return None
    if not number.isdigit() or len(number) > 10:
        return None
    return PulseLine(sensor, int(number))


def unwrap_interval(reported_ms: int, host_elapsed_ms: int | None) -> int:
    """The true interval given the 16-bit `reported_ms` and the host-measured time since the last line.

    Picks the k ≥ 0 that brings reported + k·65536 closest to the host's measure; the host clock
    is good to far better than the ±32.7 s this tolerates. Values ≥ 65536 come from a firmware
    with a wider counter and are taken as they are.
    """
    if host_elapsed_ms is None or reported_ms >= WRAP_MS:
        return reported_ms
    wraps = max(0, round((host_elapsed_ms - reported_ms) / WRAP_MS))
    return reported_ms + wraps * WRAP_MS


def power_w(interval_ms: int, pulsos_por_kwh: float) -> float:
    """Mean power over one blink interval."""
    return MS_PER_HOUR * 1000.0 / (pulsos_por_kwh * interval_ms)


class LineSplitter:
    """Sans-I/O: bytes with their arrival time in, complete lines out; partial lines dropped."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._last_byte_ms = 0
        self._overflowing = False
        self.dropped = 0  # partial or overlong lines thrown away

    def feed(self, data: bytes, now_ms: int) -> list[bytes]:
        if self._buffer and now_ms - self._last_byte_ms > PARTIAL_LINE_TIMEOUT_MS:
            self._buffer.clear()
            self.dropped += 1
        if data:
            self._last_byte_ms = now_ms
        lines = []
        for byte in data:
            if byte == 0x0A:
                if self._overflowing:
                    self._overflowing = False
                else:
                    lines.append(bytes(self._buffer))
                self._buffer.clear()
            elif not self._overflowing:
                self._buffer.append(byte)
                if len(self._buffer) > MAX_LINE_BYTES:
                    self._buffer.clear()
                    self._overflowing = True
                    self.dropped += 1
        return lines

    def discard_partial(self) -> None:
        """The stream broke (unplug): whatever is half-received will never be completed."""
        if self._buffer:
            self.dropped += 1
        self._buffer.clear()
        self._overflowing = False


class PulseCounter:
    """Pure state: accepted lines become a Wh counter, blip points and a power estimate."""

    def __init__(self, pulsos_por_kwh: float, sensor: str | None = None, start_wh: float = 0.0) -> None:
        self.pulsos_por_kwh = pulsos_por_kwh
        self.sensor = sensor
        self.start_wh = start_wh
        self.count = 0
        self.ignored = 0  # garbage lines, or lines of another sensor / format
        self._last_stamp_ms: int | None = None
        self._last_interval_ms: int | None = None

    @property
    def energia_wh(self) -> float:
        return self.start_wh + self.count * 1000.0 / self.pulsos_por_kwh

    def line(self, raw: bytes, stamp_ms: int) -> tuple[int, int] | None:
        """Account one complete line received at `stamp_ms`; the blip point, or None if ignored."""
        parsed = parse_pulse_line(raw)
        if parsed is None or parsed.sensor != self.sensor:
            self.ignored += 1
            return None
        elapsed = None if self._last_stamp_ms is None else stamp_ms - self._last_stamp_ms
        interval = unwrap_interval(parsed.ms, elapsed)
        if self._last_stamp_ms is not None and stamp_ms <= self._last_stamp_ms:
            # Lines read together get the same arrival time; two blinks are never the same
            # millisecond, and stored points must move forward (blipserver pages by stamp + 1).
            stamp_ms = self._last_stamp_ms + 1
        if interval <= 0:
            # Zero ms cannot be a blink interval; a glitch, and counting it would add energy.
            self.ignored += 1
            return None
        self.count += 1
        self._last_stamp_ms = stamp_ms
        self._last_interval_ms = interval
        return stamp_ms, interval

    def forget_timing(self) -> None:
        """After an unplug the host clock no longer spans one interval: do not unwrap across it."""
        self._last_stamp_ms = None

    def potencia_w(self, now_ms: int) -> float | None:
        """Power from the last interval, lowered to the bound the silence since then implies.

        With no blink for longer than the last interval, power is at most one blink's energy
        over the silence; reporting the old interval would show a switched-off load as still on.
        """
        if self._last_interval_ms is None or self._last_stamp_ms is None:
            return None
        interval = max(self._last_interval_ms, now_ms - self._last_stamp_ms)
        return power_w(interval, self.pulsos_por_kwh)


class PulseDevice:
    """An Arduino pulse counter on a serial port, read by a thread this object owns.

    The thread stamps each line as it arrives (a 10 s poll would smear stamps by up to 10 s and
    break the wrap detection); read() returns at once with what it gathered. An unplug is raised
    once as DeviceDisconnected; the next read() reopens the port.
    """

    _POLL_S = 0.2  # how often the reader thread checks for stop while the line is idle

    def __init__(self, config: DeviceConfig, start_wh: float = 0.0,
                 clock_ms: Callable[[], int] | None = None) -> None:
        self.config = config
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._counter = PulseCounter(config.pulsos_por_kwh, config.sensor, start_wh)
        self._splitter = LineSplitter()
        self._lock = threading.Lock()
        self._points: list[tuple[int, int]] = []
        self._error: DeviceError | None = None
        self._port: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def descartadas(self) -> int:
        """Lines dropped as partial, overlong, garbage or of another sensor."""
        with self._lock:
            return self._splitter.dropped + self._counter.ignored

    def open(self) -> None:
        if self._thread is not None:
            return
        self._port = open_serial(self.config, self._POLL_S)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"pulsos {self.config.porta}", daemon=True)
        self._thread.start()

    def read(self) -> Sample:
        with self._lock:
            error, self._error = self._error, None
        if error is not None:
            self._join()
            raise error
        if self._thread is None:
            self.open()
        now = self._clock_ms()
        with self._lock:
            points, self._points = tuple(self._points), []
            energia = self._counter.energia_wh
            potencia = self._counter.potencia_w(now)
        medidas: list[tuple[str, float | tuple[float, ...]]] = [("CEA", energia / 1000.0)]
        if potencia is not None:
            medidas.append(("PAT", potencia))
        return Sample(now, tuple(medidas), energia, potencia, points)

    def close(self) -> None:
        self._join()

    def _join(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._port is not None:
            close_quietly(self._port)
            self._port = None

    def _run(self) -> None:
        port = self._port
        try:
            while not self._stop.is_set():
                data = port.read(max(1, port.in_waiting))
                now = self._clock_ms()
                with self._lock:
                    for line in self._splitter.feed(data, now):
                        point = self._counter.line(line, now)
                        if point is not None:
                            self._points.append(point)
                    if len(self._points) > MAX_PENDING_POINTS:
                        del self._points[:-MAX_PENDING_POINTS]
        except PORT_ERRORS as exc:
            with self._lock:
                self._splitter.discard_partial()
                self._counter.forget_timing()
                self._error = disconnected(self.config.porta or "porta", exc)
        except Exception as exc:  # a bug here must surface in the agent's status, not kill silently
            log.exception("pulse reader thread failed")
            with self._lock:
                self._error = DeviceDisconnected(f"leitor de pulsos falhou: {exc!r}")
