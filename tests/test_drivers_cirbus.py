"""CIRBUS: pure frame code (table cases and Hypothesis) and the driver over os.openpty() pairs."""
from __future__ import annotations

import os
import select
import threading
import tty
from typing import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import (DeviceConfig, DeviceDisconnected, DeviceError, DeviceProtocolError,
                     DeviceTimeout, open_device)
from drivers.cirbus import (FrameReader, build_reply, build_request, checksum, load_cirbus_map,
                            parse_reply, parse_request)
from drivers.simulated import CirbusResponder, constant


def test_request_frame_is_dollar_address_command_checksum_lf() -> None:
    body = b"$01RVI"
    assert build_request(1, "RVI") == body + b"%02X" % (sum(body) % 256) + b"\n"
    assert parse_request(build_request(42, "RHI")) == (42, "RHI")


@pytest.mark.parametrize("frame,error", [
    (b"$000000230000000231000000229000000000", "bytes"),          # no checksum
    (b"$000000230000000231000000229000000000ZZ", "ilegível"),
    (b"000000230000000231000000229000000000" + b"00", "'\\$'"),
    (b"$00000023A000000231000000229000000000", "bytes"),
])
def test_malformed_replies_are_protocol_errors(frame: bytes, error: str) -> None:
    with pytest.raises(DeviceProtocolError, match=error):
        parse_reply(frame, 4, 9)


def test_reply_with_wrong_checksum_is_rejected_and_says_both_sums() -> None:
    good = build_reply([230, 231, 229, 0], 9).rstrip(b"\n")
    bad = good[:-2] + (b"00" if good[-2:] != b"00" else b"01")
    with pytest.raises(DeviceProtocolError, match="checksum CIRBUS inválido"):
        parse_reply(bad, 4, 9)


def test_reply_tolerates_cr_lf_and_lowercase_checksum() -> None:
    frame = build_reply([1, -2, 3], 5).rstrip(b"\n")
    assert parse_reply(frame[:-2] + frame[-2:].lower() + b"\r\n", 3, 5) == (1, -2, 3)


@given(st.integers(0, 99), st.sampled_from(["RVI", "RAI", "RPI", "RFI", "RHI", "VER"]))
def test_request_round_trip(address: int, command: str) -> None:
    assert parse_request(build_request(address, command)) == (address, command)


@given(st.integers(1, 12).flatmap(
    lambda width: st.tuples(st.just(width), st.lists(
        st.integers(-(10 ** (width - 1) - 1), 10 ** width - 1), min_size=1, max_size=6))))
def test_reply_round_trip(case: tuple[int, list[int]]) -> None:
    width, values = case
    frame = build_reply(values, width)
    assert parse_reply(frame, len(values), width) == tuple(values)
    assert FrameReader().feed(frame) == [frame[:-1]]


@given(st.binary(max_size=200))
@settings(max_examples=300)
def test_garbage_never_raises_anything_but_device_error(data: bytes) -> None:
    reader = FrameReader()
    for frame in reader.feed(data):
        try:
            parse_reply(frame, 4, 9)
        except DeviceError:
            pass
        try:
            parse_request(frame)
        except DeviceError:
            pass


@given(st.binary(max_size=60), st.integers(1, 40))
def test_frame_reader_gives_the_same_frames_fed_whole_or_in_pieces(noise: bytes, cut: int) -> None:
    stream = noise.replace(b"$", b"") + build_reply([1, 2, 3, 4], 9) + noise.replace(b"$", b"") \
        + build_reply([5, 6, 7, 8], 9)
    whole = FrameReader().feed(stream)
    reader = FrameReader()
    pieces = [f for i in range(0, len(stream), cut) for f in reader.feed(stream[i:i + cut])]
    assert pieces == whole
    assert [parse_reply(f, 4, 9) for f in whole][-2:] == [(1, 2, 3, 4), (5, 6, 7, 8)]


def test_checksum_is_sum_mod_256_in_two_hex_digits() -> None:
    assert checksum(b"") == b"00"
    assert checksum(b"\xff\x02") == b"01"


def config(path: str, **kw: object) -> DeviceConfig:
    return DeviceConfig("cirbus", "cvmk", porta=path, **kw)  # type: ignore[arg-type]


def test_cvmk_values_from_the_responder() -> None:
    responder = CirbusResponder(constant(3000.0), address=5)
    path = responder.start()
    device = open_device(config(path, endereco=5))
    try:
        sample = device.read()
    finally:
        device.close()
        responder.stop()
    m = dict(sample.medidas)
    assert sample.potencia_w == pytest.approx(3000.0)
    assert m["PAF"] == pytest.approx((1000.0,) * 3)
    assert len(m["TPF"]) == 3 and all(210 < v < 230 for v in m["TPF"])
    assert len(m["IPF"]) == 4
    assert m["FPT"] == pytest.approx(0.92)
    assert m["FRE"] == pytest.approx(60.0)
    assert sample.energia_wh is None  # no CEA over CIRBUS: the agent integrates PAT


def test_requests_to_another_address_get_no_answer() -> None:
    responder = CirbusResponder(constant(3000.0), address=5)
    path = responder.start()
    device = open_device(config(path, endereco=6, timeout_s=0.3))
    try:
        with pytest.raises(DeviceTimeout, match="06"):
            device.read()
    finally:
        device.close()
        responder.stop()


def corrupt_checksum(reply: bytes) -> bytes:
    return reply[:-3] + (b"00" if reply[-3:-1] != b"00" else b"11") + b"\n"


@pytest.mark.parametrize("reply_filter,error", [
    (corrupt_checksum, DeviceProtocolError),
    (lambda reply: b"\x00\xffnoise" + reply, None),          # noise before '$' is skipped
    (lambda reply: reply[:10], DeviceProtocolError),           # a partial reply, then silence
    (lambda reply: reply.replace(b"0", b"O", 1), DeviceProtocolError),
    (lambda reply: b"", DeviceTimeout),                        # a silent device
    (lambda reply: b"garbage without any frame\n", DeviceProtocolError),
])
def test_faulty_replies(reply_filter: Callable[[bytes], bytes], error: type | None) -> None:
    responder = CirbusResponder(constant(3000.0), reply_filter=reply_filter)
    path = responder.start()
    device = open_device(config(path, timeout_s=0.3))
    try:
        if error is None:
            assert device.read().potencia_w == pytest.approx(3000.0)
        else:
            with pytest.raises(error):
                device.read()
    finally:
        device.close()
        responder.stop()


def test_recovers_on_the_next_read_after_a_bad_reply() -> None:
    replies = iter([corrupt_checksum])

    def first_bad(reply: bytes) -> bytes:
        fault = next(replies, None)
        return fault(reply) if fault else reply

    responder = CirbusResponder(constant(1200.0), reply_filter=first_bad)
    path = responder.start()
    device = open_device(config(path, timeout_s=0.5))
    try:
        with pytest.raises(DeviceProtocolError):
            device.read()
        assert device.read().potencia_w == pytest.approx(1200.0)
    finally:
        device.close()
        responder.stop()


def test_unplug_is_disconnected_and_never_anything_else() -> None:
    responder = CirbusResponder(constant(3000.0))
    path = responder.start()
    device = open_device(config(path, timeout_s=0.5))
    try:
        device.read()
        responder.stop()  # closes the master side: the cable is pulled
        with pytest.raises(DeviceDisconnected):
            device.read()
        with pytest.raises(DeviceDisconnected):  # the pty is gone: reopening fails too
            device.read()
    finally:
        device.close()


class RawPeer:
    """A bare openpty pair: the test scripts the device's bytes by hand."""

    def __init__(self, answer: Callable[[bytes], bytes]) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.answer = answer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    data = os.read(self.master, 1024)
                except OSError:
                    continue
                reply = self.answer(data)
                for i in range(len(reply)):  # one byte at a time, like a slow UART
                    os.write(self.master, reply[i:i + 1])

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        os.close(self.master)
        os.close(self.slave)


def test_reply_trickling_in_byte_by_byte_after_noise_is_read() -> None:
    cmap = load_cirbus_map("cvmk")
    widths = {c.command: (len(c.targets), c.width) for c in cmap.commands}

    def answer(request: bytes) -> bytes:
        _, command = parse_request(request)
        count, width = widths[command]
        return b"\r\n\x00junk" + build_reply([100] * count, width)

    peer = RawPeer(answer)
    device = open_device(config(peer.path))
    try:
        sample = device.read()
    finally:
        device.close()
        peer.close()
    assert dict(sample.medidas)["TPF"] == pytest.approx((100.0, 100.0, 100.0))
    assert sample.potencia_w == pytest.approx(100.0)  # 100 × 0.001 kW


def test_unknown_model_is_a_config_error_listing_known_ones() -> None:
    from drivers import ConfigError
    with pytest.raises(ConfigError, match="cvmk"):
        open_device(DeviceConfig("cirbus", "cvm-inexistente", porta="/dev/null"))
