"""A simulated Modbus analyzer: a real pymodbus server whose registers follow a consumption profile.

Any map in drivers/maps serves: the registers are laid out from the same read plan the driver
uses, and refreshed from `MeterState` on every request and once a second (so energy keeps
accumulating when nobody reads).
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Callable, Mapping

from pymodbus import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from ..decode import encode_map, encode_raw, step
from ..modbus import map_spans, plan_reads, route_pymodbus_logging
from shared.models import MEASUREMENT_CODES

from ..register_map import Field, RegisterMap, load_register_map
from .meter import MeterState, Profile

route_pymodbus_logging()
log = logging.getLogger(__name__)

# Refresh period of the registers when nobody reads; the energy integral is trapezoidal, so
# one second keeps it exact for any profile that is not switching faster than that.
TICK_S = 1.0
# How long start() waits for the server thread to bind; a loaded CI machine needs seconds.
START_TIMEOUT_S = 10.0
# Largest power the simulated installation draws: sets the scale registers so every value fits
# its register type (PM710: 1 W resolution in int16 up to 32.7 kW).
DESIGN_POWER_W = 30_000.0


class ModbusSimulator:
    """`start()` serves in a thread with its own asyncio loop and returns (host, port); `stop()` joins it."""

    def __init__(self, modelo: str, profile: Profile, *, host: str = "127.0.0.1", port: int = 0,
                 framer: str = "tcp", unit: int = 1, start_kwh: float = 1000.0,
                 exponents: Mapping[str, int] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if framer not in ("tcp", "rtu"):
            raise ValueError("framer must be 'tcp' (MBAP) or 'rtu' (RTU framing over TCP)")
        self.map: RegisterMap = load_register_map(modelo)
        self.state = MeterState(profile, start_kwh, clock)
        self.host = host
        self.port = port
        self.framer = framer
        self.unit = unit
        self.exponents = dict(exponents) if exponents is not None else choose_exponents(self.map)
        self._blocks = plan_reads(map_spans(self.map), self.map.max_gap, self.map.max_read)
        self._lock = threading.Lock()  # state and words: the server loop vs. callers of values()
        self._words = self._encode()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> tuple[str, int]:
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        self._thread = threading.Thread(target=self._run, name=f"simulador {self.map.model}", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            self.stop()
            raise RuntimeError("simulated Modbus server did not start")
        if self._error is not None:
            self._thread.join()
            self._thread = None
            raise RuntimeError(f"simulated Modbus server failed: {self._error}") from self._error
        return self.host, self.port

    def stop(self) -> None:
        """Close the server (clients see the connection drop) and join its thread; idempotent."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:
                pass  # the loop already ended (startup failure)
        thread.join()

    def values(self) -> dict[str, object]:
        """What the simulated meter measures right now (for tests and the demo's printout)."""
        with self._lock:
            return dict(self.state.values())

    def _encode(self) -> dict[tuple[int, int], int]:
        return encode_map(self.map, self.state.values(), self.exponents)

    def _refresh(self) -> None:
        with self._lock:
            self.state.advance()
            try:
                self._words = self._encode()
            except ValueError as exc:
                # The profile went beyond what the scale registers can show; a real meter's
                # register would be pinned too. Keep the last good registers, say why.
                log.warning("%s: value out of register range, registers frozen: %s", self.map.model, exc)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        device = SimDevice(self.unit, simdata=self._simdata(), action=self._action)
        if self.framer == "tcp":
            server: ModbusTcpServer | ModbusSerialServer = ModbusTcpServer(
                device, address=(self.host, self.port))
        else:
            server = ModbusSerialServer(device, port=f"socket://{self.host}:{self.port}",
                                        framer=FramerType.RTU)
        await server.serve_forever(background=True)
        try:
            self.port = server.transport.sockets[0].getsockname()[1]
            self._ready.set()
            while not self._stopping.is_set():
                try:
                    await asyncio.wait_for(self._stopping.wait(), TICK_S)
                except asyncio.TimeoutError:
                    self._refresh()
        finally:
            await server.shutdown()

    def _simdata(self) -> list[SimData] | tuple[list[SimData], list[SimData], list[SimData], list[SimData]]:
        per_function: dict[int, list[SimData]] = {3: [], 4: []}
        for block in self._blocks:
            per_function[block.function].append(SimData(
                address=self.map.wire_address(block.register),
                values=[0] * block.count, datatype=DataType.REGISTERS))
        if not per_function[4]:
            return per_function[3]
        if not per_function[3]:
            return per_function[4]
        # Both function codes: separate holding and input spaces, as on a real device.
        bits = [SimData(address=0, values=[False] * 16, datatype=DataType.BITS)]
        return (bits, list(bits), per_function[3], per_function[4])

    async def _action(self, function_code: int, start_address: int, _address: int, _count: int,
                      registers: list[int], _values: object) -> None:
        self._refresh()
        shared = not (any(b.function == 3 for b in self._blocks) and any(b.function == 4 for b in self._blocks))
        with self._lock:
            for (function, register), word in self._words.items():
                if shared or function == function_code:
                    index = self.map.wire_address(register) - start_address
                    if 0 <= index < len(registers):
                        registers[index] = word
        return None


def choose_exponents(regmap: RegisterMap) -> dict[str, int]:
    """For each scale register, the finest exponent at which every field using it still fits.

    Design values: DESIGN_POWER_W of load at 180 V (worst-case current), 400 V, a counter
    of one million kWh.
    """
    design = {"W": DESIGN_POWER_W, "VA": DESIGN_POWER_W * 1.5, "var": DESIGN_POWER_W,
              "V": 400.0, "A": DESIGN_POWER_W / 180.0, "kWh": 1e6, "kvarh": 1e6,
              "Hz": 70.0, "%": 100.0, "": 1.0}
    chosen: dict[str, int] = {}
    for scale in regmap.scales:
        users = [f for f in regmap.fields if f.scale == scale.name]
        for exponent in range(scale.min_exp, scale.max_exp + 1):
            if all(_fits(f, design[MEASUREMENT_CODES[f.target.code]], exponent) for f in users):
                chosen[scale.name] = exponent
                break
        else:
            chosen[scale.name] = scale.max_exp
    return chosen


def _fits(field: Field, value: float, exponent: int) -> bool:
    if field.datatype == "float32":
        return True
    raw = int(round(value / step(field, exponent)))
    try:
        encode_raw(field.datatype, raw)
        if field.datatype.startswith("int"):
            encode_raw(field.datatype, -raw)  # signed fields must also hold the export
    except ValueError:
        return False
    return True
