"""The Arduino pulse counter: line parsing, 16-bit wrap, Wh counter, and the reader over openpty pairs."""
from __future__ import annotations

import os
import time
import tty
from typing import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers import DeviceConfig, DeviceDisconnected, Sample, open_device
from drivers.pulses import (MAX_LINE_BYTES, PARTIAL_LINE_TIMEOUT_MS, WRAP_MS, LineSplitter,
                            PulseCounter, PulseLine, parse_pulse_line, power_w, unwrap_interval)
from drivers.simulated import PulseEmitter, constant

# How long a test waits for the reader thread to see bytes written to the pty. Generous: the
# condition is polled, so a fast machine does not wait it out.
SETTLE_S = 5.0


@pytest.mark.parametrize("line,expected", [
    (b"1234", PulseLine(None, 1234)),
    (b"1234\r", PulseLine(None, 1234)),
    (b"  77 ", PulseLine(None, 77)),
    (b"3 4500", PulseLine("3", 4500)),
    (b"", None),
    (b"12a4", None),
    (b"-5", None),
    (b"1 2 3", None),
    (b"\xff\xfe", None),
    (b"99999999999", None),
])
def test_parse_pulse_line(line: bytes, expected: PulseLine | None) -> None:
    assert parse_pulse_line(line) == expected


def test_power_formula_from_blipserver() -> None:
    assert power_w(1000, 1000) == pytest.approx(3600.0)   # one Wh per second
    assert power_w(6000, 600) == pytest.approx(1000.0)


@given(st.integers(1, 10 * WRAP_MS), st.integers(-30_000, 30_000))
def test_unwrap_recovers_the_true_interval_from_16_bits_and_the_host_clock(true_ms: int, jitter: int) -> None:
    reported = true_ms % WRAP_MS
    host = max(0, true_ms + jitter)
    assert unwrap_interval(reported, host) == true_ms


def test_unwrap_leaves_short_and_wide_counter_intervals_alone() -> None:
    assert unwrap_interval(1500, 1490) == 1500
    assert unwrap_interval(1500, None) == 1500
    assert unwrap_interval(100_000, 100_000) == 100_000   # a 32-bit firmware
    assert unwrap_interval(4464, 70_000) == 4464 + WRAP_MS   # 70 s between blinks


def feed_all(splitter: LineSplitter, chunks: list[bytes], now_ms: int = 0) -> list[bytes]:
    return [line for chunk in chunks for line in splitter.feed(chunk, now_ms)]


def test_lines_are_the_same_fed_whole_or_byte_at_a_time() -> None:
    stream = b"100\n200\r\n3 300\nabc\n"
    whole = feed_all(LineSplitter(), [stream])
    single = feed_all(LineSplitter(), [stream[i:i + 1] for i in range(len(stream))])
    assert whole == single == [b"100", b"200\r", b"3 300", b"abc"]


def test_partial_line_left_by_a_long_silence_is_dropped_not_glued() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"12", 1_000) == []
    assert splitter.feed(b"345\n", 1_000 + PARTIAL_LINE_TIMEOUT_MS + 1) == [b"345"]
    assert splitter.dropped == 1


def test_partial_line_completed_promptly_is_kept() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"12", 1_000) == []
    assert splitter.feed(b"34\n", 1_050) == [b"1234"]


def test_overlong_line_is_dropped_up_to_its_newline() -> None:
    splitter = LineSplitter()
    lines = splitter.feed(b"9" * (MAX_LINE_BYTES + 5) + b"\n42\n", 0)
    assert lines == [b"42"]
    assert splitter.dropped == 1


def test_counter_counts_wh_and_ignores_garbage_zero_and_other_sensors() -> None:
    counter = PulseCounter(pulsos_por_kwh=600, sensor="2")
    stamps = iter(range(10_000, 100_000, 1000))
    lines = [b"2 1000", b"1 1000", b"1000", b"2 0", b"2 x", b"2 1000"]
    points = [counter.line(line, next(stamps)) for line in lines]
    assert [p for p in points if p] == [(10_000, 1000), (15_000, 1000)]
    assert counter.count == 2 and counter.ignored == 4
    assert counter.energia_wh == pytest.approx(2 * 1000 / 600)


def test_power_decays_to_the_bound_the_silence_implies() -> None:
    counter = PulseCounter(1000)
    counter.line(b"1000", 50_000)
    assert counter.potencia_w(50_500) == pytest.approx(3600.0)
    assert counter.potencia_w(60_000) == pytest.approx(360.0)   # 10 s without a blink


@given(st.lists(st.integers(1, 5 * WRAP_MS), min_size=1, max_size=30))
def test_counter_unwraps_a_sequence_of_long_gaps(intervals: list[int]) -> None:
    counter = PulseCounter(1000)
    stamp = 1_000_000
    counter.line(b"1", stamp)
    for interval in intervals:
        stamp += interval
        point = counter.line(str(interval % WRAP_MS).encode(), stamp)
        if interval % WRAP_MS == 0 and point is None:
            continue  # a 0 ms report is indistinguishable from a glitch when no wrap is evident
        assert point == (stamp, interval)


class Pty:
    """A raw openpty pair: the test writes device bytes on the master, the driver opens the path."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def unplug(self) -> None:
        os.close(self.master)
        os.close(self.slave)


def wait_for(read: Callable[[], Sample], done: Callable[[list[Sample]], bool]) -> list[Sample]:
    samples: list[Sample] = []
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline:
        samples.append(read())
        if done(samples):
            return samples
        time.sleep(0.02)
    raise AssertionError(f"condition not met within {SETTLE_S} s: {samples[-1]}")


def points(samples: list[Sample]) -> list[tuple[int, int]]:
    return [p for s in samples for p in s.pulsos]


def test_pulse_lines_become_wh_with_garbage_and_partial_lines_dropped() -> None:
    pty = Pty()
    device = open_device(DeviceConfig("pulsos", porta=pty.path, pulsos_por_kwh=500))
    try:
        pty.write(b"1000\nnoise!\n\xff\x00\n2000\r\n")
        pty.write(b"15")  # the Arduino resets mid-line: this fragment never ends
        samples = wait_for(device.read, lambda s: len(points(s)) >= 2)
        assert [ms for _, ms in points(samples)] == [1000, 2000]
        last = samples[-1]
        assert last.energia_wh == pytest.approx(4.0)   # 2 blinks × 2 Wh
        assert dict(last.medidas)["CEA"] == pytest.approx(0.004)
        assert last.potencia_w is not None and last.potencia_w <= 3600.0
    finally:
        device.close()
        pty.unplug()


def test_multi_sensor_lines_pick_the_configured_sensor() -> None:
    pty = Pty()
    device = open_device(DeviceConfig("pulsos", porta=pty.path, sensor="b"))
    try:
        pty.write(b"a 100\nb 200\n300\nb 400\n")
        samples = wait_for(device.read, lambda s: len(points(s)) >= 2)
        assert [ms for _, ms in points(samples)] == [200, 400]
    finally:
        device.close()
        pty.unplug()


def test_unplug_is_reported_once_then_reopen_fails_while_unplugged() -> None:
    pty = Pty()
    device = open_device(DeviceConfig("pulsos", porta=pty.path))
    try:
        pty.write(b"1000\n")
        wait_for(device.read, lambda s: len(points(s)) >= 1)
        pty.unplug()
        deadline = time.monotonic() + SETTLE_S
        with pytest.raises(DeviceDisconnected):
            while time.monotonic() < deadline:
                device.read()
                time.sleep(0.02)
        with pytest.raises(DeviceDisconnected):
            device.read()
    finally:
        device.close()


def test_energy_counter_survives_a_replug() -> None:
    first = Pty()
    config = DeviceConfig("pulsos", porta=first.path)
    device = open_device(config, start_wh=100.0)
    try:
        first.write(b"1000\n1000\n")
        wait_for(device.read, lambda s: len(points(s)) >= 2)
        first.unplug()
        with pytest.raises(DeviceDisconnected):
            wait_for(device.read, lambda s: False)
        second = Pty()
        device.config = DeviceConfig("pulsos", porta=second.path)  # the adapter came back renamed
        try:
            device.read()  # reopens; bytes queued before the open are flushed by design
            second.write(b"1000\n")
            samples = wait_for(device.read, lambda s: len(points(s)) >= 1)
            assert samples[-1].energia_wh == pytest.approx(103.0)
        finally:
            device.close()
            second.unplug()
    finally:
        device.close()


def test_emitter_blinks_follow_the_profile() -> None:
    emitter = PulseEmitter(constant(36_000.0), pulsos_por_kwh=1000)   # 10 Wh/s: a blink every 100 ms
    path = emitter.start()
    device = open_device(DeviceConfig("pulsos", porta=path))
    try:
        samples = wait_for(device.read, lambda s: len(points(s)) >= 6)
        intervals = [ms for _, ms in points(samples)][1:]  # the first spans from before the open
        assert all(80 <= ms <= 120 for ms in intervals), intervals
        assert samples[-1].potencia_w == pytest.approx(36_000.0, rel=0.25)
    finally:
        device.close()
        emitter.stop()


def test_emitter_wraps_its_interval_at_16_bits() -> None:
    clock = [0.0]
    emitter = PulseEmitter(constant(10.0), pulsos_por_kwh=1000, clock=lambda: clock[0])  # a blink per 360 s
    emitter._last_t = emitter._last_blink_t = 0.0
    written: list[bytes] = []
    emitter._peer.write = lambda data: written.append(data) or len(data)  # type: ignore[method-assign]
    clock[0] = 360.0
    emitter._tick()
    assert written == [b"%d\n" % (360_000 % WRAP_MS)]


def test_a_port_already_open_elsewhere_is_refused_not_shared() -> None:
    pty = Pty()
    first = open_device(DeviceConfig("pulsos", porta=pty.path))
    try:
        with pytest.raises(DeviceDisconnected, match=pty.path):
            open_device(DeviceConfig("pulsos", porta=pty.path))
    finally:
        first.close()
        pty.unplug()


@given(st.binary(max_size=300), st.integers(1, 50))
def test_arbitrary_bytes_never_raise_and_never_count_more_than_their_lines(data: bytes, cut: int) -> None:
    splitter, counter = LineSplitter(), PulseCounter(1000)
    for i in range(0, len(data), cut):
        for line in splitter.feed(data[i:i + cut], i):
            counter.line(line, 1_000_000 + i)
    assert counter.count <= data.count(b"\n")
