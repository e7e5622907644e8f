"""Modbus driver against real pymodbus servers in this process, loaded with known registers."""
from __future__ import annotations

import asyncio
import os
import select
import socket
import struct
import threading
import time

import tty

import pytest
from pymodbus import FramerType
from pymodbus.framer.rtu import FramerRTU
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from drivers import (DeviceConfig, DeviceDisconnected, DeviceProtocolError, DeviceTimeout,
                     open_device)
from drivers.modbus import ModbusDevice, Span, plan_reads
from drivers.register_map import load_register_map
from drivers.simulated import ModbusSimulator, constant


class ModbusPeer:
    """A pymodbus server on 127.0.0.1:<free port> serving `registers` {wire address: word}."""

    def __init__(self, registers: dict[int, int], *, framer: str = "tcp", unit: int = 1,
                 serial_path: str | None = None) -> None:
        self.registers = registers
        self.framer = framer
        self.serial_path = serial_path
        self.unit = unit
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    def __enter__(self) -> "ModbusPeer":
        self._thread.start()
        assert self._ready.wait(10), "server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._thread.is_alive():
            assert self._loop is not None and self._stop is not None
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join()

    def _simdata(self) -> list[SimData]:
        runs: list[SimData] = []
        addresses = sorted(self.registers)
        start = prev = addresses[0]
        for address in addresses[1:] + [None]:
            if address is not None and address == prev + 1:
                prev = address
                continue
            runs.append(SimData(start, values=[self.registers[a] for a in range(start, prev + 1)],
                                datatype=DataType.REGISTERS))
            if address is not None:
                start = prev = address
        return runs

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        device = SimDevice(self.unit, simdata=self._simdata())
        if self.serial_path is not None:
            server = ModbusSerialServer(device, port=self.serial_path, framer=FramerType.RTU, baudrate=9600)
        elif self.framer == "tcp":
            server = ModbusTcpServer(device, address=("127.0.0.1", 0))
        else:
            server = ModbusSerialServer(device, port="socket://127.0.0.1:0", framer=FramerType.RTU)
        await server.serve_forever(background=True)
        if self.serial_path is None:
            self.port = server.transport.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stop.wait()
        await server.shutdown()


def pm710_registers(overrides: dict[int, int] | None = None) -> dict[int, int]:
    """A PM710 at known values, by manual register number (wire address = register − 1)."""
    regs = {r: 0 for r in range(4000, 4052)}
    regs.update({r: 0 for r in range(4105, 4109)})
    energy = 123_456_789  # × 10^-3 kWh = 123456.789 kWh
    regs[4000], regs[4001] = energy >> 16, energy & 0xFFFF  # high word first
    regs[4004], regs[4005] = 0, 5000
    regs[4006] = (-12345) & 0xFFFF  # × 10^4107 = × 10^-1 kW: −1234.5 kW
    regs[4007] = 15000
    regs[4008] = 3000
    regs[4009] = 9200
    regs[4013] = 6001
    regs.update({4020: 1234, 4021: 1235, 4022: 1236, 4023: 10})
    regs.update({4033: 2201, 4034: 2202, 4035: 2203})
    regs.update({4036: (-4115) & 0xFFFF, 4037: (-4115) & 0xFFFF, 4038: (-4115) & 0xFFFF})
    regs.update({4045: 80, 4046: 81, 4047: 82, 4048: 150, 4049: 25, 4050: 26, 4051: 24})
    regs.update({4105: (-2) & 0xFFFF, 4106: (-1) & 0xFFFF, 4107: (-1) & 0xFFFF, 4108: (-3) & 0xFFFF})
    regs.update(overrides or {})
    return {r - 1: v for r, v in regs.items()}


def tcp_config(port: int, modelo: str = "pm710", **kw: object) -> DeviceConfig:
    return DeviceConfig("modbus", modelo, host="127.0.0.1", tcp_porta=port, **kw)  # type: ignore[arg-type]


def test_pm710_scale_registers_signed_power_and_high_word_first_energy() -> None:
    with ModbusPeer(pm710_registers()) as peer:
        device = open_device(tcp_config(peer.port))
        try:
            sample = device.read()
        finally:
            device.close()
    m = dict(sample.medidas)
    assert m["CEA"] == pytest.approx(123456.789)
    assert sample.energia_wh == pytest.approx(123_456_789.0)
    assert m["PAT"] == pytest.approx(-1_234_500.0)  # −12345 × 10^-1 kW, in W: negatives kept
    assert sample.potencia_w == m["PAT"]
    assert m["PAF"] == pytest.approx((-411_500.0,) * 3)
    assert m["TPF"] == pytest.approx((220.1, 220.2, 220.3))
    assert m["IPF"] == pytest.approx((12.34, 12.35, 12.36, 0.1))
    assert m["FPT"] == pytest.approx(0.92)
    assert m["FRE"] == pytest.approx(60.01)
    assert m["THDI"] == pytest.approx((8.0, 8.1, 8.2, 15.0))
    assert m["THDV"] == pytest.approx((2.5, 2.6, 2.4))
    assert m["CER"] == pytest.approx(5.0)


def test_pm710_is_read_in_two_requests() -> None:
    with ModbusPeer(pm710_registers()) as peer:
        device = open_device(tcp_config(peer.port))
        try:
            device.read()
            assert isinstance(device, ModbusDevice) and device.requests == 2
        finally:
            device.close()


def test_scale_register_outside_its_documented_range_is_a_protocol_error() -> None:
    with ModbusPeer(pm710_registers({4107: 9})) as peer:
        device = open_device(tcp_config(peer.port))
        try:
            with pytest.raises(DeviceProtocolError, match="4107"):
                device.read()
        finally:
            device.close()


def test_missing_optional_register_is_left_out_and_not_asked_again() -> None:
    regs = pm710_registers()
    for register in range(4045, 4052):  # a PM710 without THD registers
        del regs[register - 1]
    with ModbusPeer(regs) as peer:
        device = open_device(tcp_config(peer.port))
        try:
            first = device.read()
            requests_after_first = device.requests
            second = device.read()
            assert isinstance(device, ModbusDevice)
            assert device.requests - requests_after_first <= 3
            assert any("4045" in label for label in device.ausentes)
        finally:
            device.close()
    for sample in (first, second):
        codes = dict(sample.medidas)
        assert "THDI" not in codes and "THDV" not in codes
        assert codes["PAT"] == pytest.approx(-1_234_500.0)


def test_missing_required_register_is_a_protocol_error_naming_it_not_a_crash() -> None:
    regs = pm710_registers()
    del regs[4013 - 1]  # frequency
    with ModbusPeer(regs) as peer:
        device = open_device(tcp_config(peer.port))
        try:
            with pytest.raises(DeviceProtocolError, match="FRE.*4013"):
                device.read()
            with pytest.raises(DeviceProtocolError):  # and again: the device stays usable
                device.read()
        finally:
            device.close()


def test_exception_reply_for_another_unit_is_a_protocol_error() -> None:
    with ModbusPeer(pm710_registers(), unit=1) as peer:
        device = open_device(tcp_config(peer.port, endereco=7))
        try:
            with pytest.raises(DeviceProtocolError, match="exceção Modbus"):
                device.read()
        finally:
            device.close()


def test_server_gone_is_disconnected_and_reconnects_when_it_returns() -> None:
    sim = ModbusSimulator("pm710", constant(1000.0))
    host, port = sim.start()
    device = open_device(tcp_config(port))
    try:
        device.read()
        sim.stop()
        with pytest.raises((DeviceDisconnected, DeviceTimeout)):
            device.read()
        with pytest.raises(DeviceDisconnected):
            device.read()
        sim2 = ModbusSimulator("pm710", constant(1000.0), port=port)
        sim2.start()
        try:
            assert device.read().potencia_w == pytest.approx(1000.0)
        finally:
            sim2.stop()
    finally:
        device.close()
        sim.stop()


def test_connection_refused_at_open_is_disconnected() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DeviceDisconnected):
        open_device(tcp_config(port))


def test_missing_serial_port_is_disconnected_with_the_path() -> None:
    with pytest.raises(DeviceDisconnected, match="/dev/ttyNAOEXISTE0"):
        open_device(DeviceConfig("modbus", "pm710", porta="/dev/ttyNAOEXISTE0"))


class SerialCable:
    """Two openpty pairs bridged by a thread: a real serial path at each end (pyserial's loop:// does not carry Modbus).

    `meter_path` is the meter's end, `agent_path` the agent's; `unplug()` pulls the agent's end.
    """

    def __init__(self) -> None:
        self.meter_master, self.meter_slave = os.openpty()
        self.agent_master, self.agent_slave = os.openpty()
        for fd in (self.meter_master, self.meter_slave, self.agent_master, self.agent_slave):
            tty.setraw(fd)
        self.meter_path = os.ttyname(self.meter_slave)
        self.agent_path = os.ttyname(self.agent_slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        ends = {self.meter_master: self.agent_master, self.agent_master: self.meter_master}
        while not self._stop.is_set():
            ready, _, _ = select.select(list(ends), [], [], 0.05)
            for fd in ready:
                try:
                    os.write(ends[fd], os.read(fd, 1024))
                except OSError:
                    pass  # an end with nobody on it yet

    def unplug(self) -> None:
        self._stop.set()
        self._thread.join()
        if self.agent_master >= 0:
            os.close(self.agent_master)
            os.close(self.agent_slave)
            self.agent_master = -1

    def close(self) -> None:
        self.unplug()
        os.close(self.meter_master)
        os.close(self.meter_slave)


def test_rtu_over_a_serial_line_reads_and_an_unplug_is_disconnected() -> None:
    cable = SerialCable()
    try:
        with ModbusPeer(pm710_registers(), serial_path=cable.meter_path):
            device = open_device(DeviceConfig("modbus", "pm710", porta=cable.agent_path, baud=9600))
            try:
                assert device.read().potencia_w == pytest.approx(-1_234_500.0)
                cable.unplug()
                for _ in range(2):  # the port is gone, and stays gone: never another error type
                    with pytest.raises(DeviceDisconnected):
                        device.read()
            finally:
                device.close()
    finally:
        cable.close()


class ScriptedTcpPeer:
    """A TCP peer that accepts and answers each request with `respond(request)` (b"" = silence)."""

    def __init__(self, respond) -> None:
        self.respond = respond
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "ScriptedTcpPeer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.listener.close()
        self._thread.join()

    def _run(self) -> None:
        self.listener.settimeout(0.05)
        conns: list[socket.socket] = []
        try:
            while not self._stop.is_set():
                try:
                    conn, _ = self.listener.accept()
                    conn.settimeout(0.05)
                    conns.append(conn)
                except (socket.timeout, OSError):
                    pass
                for conn in list(conns):
                    try:
                        request = conn.recv(256)
                    except socket.timeout:
                        continue
                    except OSError:
                        conns.remove(conn)
                        continue
                    if not request:
                        conns.remove(conn)
                        conn.close()
                        continue
                    reply = self.respond(request)
                    if reply:
                        conn.sendall(reply)
        finally:
            for conn in conns:
                conn.close()


def rtu_reply(request: bytes, *, corrupt: bool) -> bytes:
    unit, function, _address, count = struct.unpack(">BBHH", request[:6])
    body = bytes([unit, function, count * 2]) + b"\x00\x01" * count
    crc = FramerRTU.compute_CRC(body)
    if corrupt:
        crc ^= 0x5A5A
    return body + crc.to_bytes(2, "big")


def test_silent_device_is_a_timeout() -> None:
    with ScriptedTcpPeer(lambda _request: b"") as peer:
        device = open_device(DeviceConfig("modbus", "das8000", porta=f"socket://127.0.0.1:{peer.port}",
                                          timeout_s=0.3))
        try:
            started = time.monotonic()
            with pytest.raises(DeviceTimeout, match="não respondeu"):
                device.read()
            assert time.monotonic() - started < 5
        finally:
            device.close()


def test_bad_crc_over_rtu_is_a_protocol_error_not_a_timeout() -> None:
    with ScriptedTcpPeer(lambda request: rtu_reply(request, corrupt=True)) as peer:
        device = open_device(DeviceConfig("modbus", "das8000", porta=f"socket://127.0.0.1:{peer.port}",
                                          timeout_s=0.3))
        try:
            with pytest.raises(DeviceProtocolError, match="CRC"):
                device.read()
        finally:
            device.close()


def test_good_crc_from_the_same_scripted_peer_decodes() -> None:
    with ScriptedTcpPeer(lambda request: rtu_reply(request, corrupt=False)) as peer:
        device = open_device(DeviceConfig("modbus", "das8000", porta=f"socket://127.0.0.1:{peer.port}"))
        try:
            sample = device.read()
        finally:
            device.close()
    assert dict(sample.medidas)["TPF"] == pytest.approx((0.1, 0.1, 0.1))


def test_rtu_framing_over_tcp_reads_the_same_values_as_tcp() -> None:
    with ModbusPeer(pm710_registers(), framer="rtu") as peer:
        device = open_device(DeviceConfig("modbus", "pm710", porta=f"socket://127.0.0.1:{peer.port}"))
        try:
            rtu = device.read()
        finally:
            device.close()
    with ModbusPeer(pm710_registers()) as peer:
        device = open_device(tcp_config(peer.port))
        try:
            tcp = device.read()
        finally:
            device.close()
    assert rtu.medidas == tcp.medidas


def test_das8000_values_over_9999_are_invalid_and_left_out() -> None:
    regs = {a: 2200 for a in range(2, 10)}
    regs[3] = 10000  # phase B voltage: no signal
    with ModbusPeer(regs) as peer:
        device = open_device(tcp_config(peer.port, "das8000"))
        try:
            sample = device.read()
        finally:
            device.close()
    m = dict(sample.medidas)
    assert "TPF" not in m  # a tuple with a hole would shift phases
    assert m["IPF"] == pytest.approx((220.0, 220.0, 220.0))
    assert m["PAT"] == pytest.approx(220_000.0)


def test_simulator_energy_accumulates_over_time() -> None:
    clock = [1_800_000_000.0]
    sim = ModbusSimulator("pm710", constant(3600.0), clock=lambda: clock[0], start_kwh=10.0)
    _, port = sim.start()
    device = open_device(tcp_config(port))
    try:
        before = device.read().energia_wh
        clock[0] += 60.0  # one minute at 3.6 kW is 60 Wh
        after = device.read().energia_wh
    finally:
        device.close()
        sim.stop()
    assert before == pytest.approx(10_000.0)
    assert after == pytest.approx(10_060.0, abs=1.0)


@pytest.mark.parametrize("modelo", ["pm710", "pm500", "das8000"])
@pytest.mark.parametrize("framer", ["tcp", "rtu"])
def test_every_shipped_map_reads_back_from_its_simulator(modelo: str, framer: str) -> None:
    sim = ModbusSimulator(modelo, constant(4500.0), framer=framer)
    host, port = sim.start()
    config = tcp_config(port, modelo) if framer == "tcp" else \
        DeviceConfig("modbus", modelo, porta=f"socket://{host}:{port}")
    device = open_device(config)
    try:
        sample = device.read()
    finally:
        device.close()
        sim.stop()
    assert sample.potencia_w == pytest.approx(4500.0, rel=0.01)


def test_plan_reads_through_small_gaps_and_splits_at_max_read() -> None:
    spans = tuple(Span(3, r, 1, str(r), False) for r in (10, 12, 20, 200, 201))
    assert [(b.register, b.count) for b in plan_reads(spans, 2, 125)] == [(10, 3), (20, 1), (200, 2)]
    assert [(b.register, b.count) for b in plan_reads(spans, 200, 125)] == [(10, 11), (200, 2)]
    assert [(b.register, b.count) for b in plan_reads(spans, 200, 5)] == [(10, 3), (20, 1), (200, 2)]


def test_pm710_map_covers_the_documented_registers() -> None:
    regmap = load_register_map("pm710")
    assert {s.name: s.register for s in regmap.scales} == {"I": 4105, "V": 4106, "W": 4107, "E": 4108}
    assert regmap.wire_address(4000) == 3999
