"""Modbus RTU and Modbus TCP meters through pymodbus, driven by a register map file.

The map's registers are grouped into as few requests as the map allows (a PM710 is two reads:
4000–4051 and the scale registers 4105–4108). pymodbus failures become DeviceError subclasses:
refused/reset connection or missing port → DeviceDisconnected; silence → DeviceTimeout; bytes
that never formed a valid frame (bad CRC, garbage) or an exception reply → DeviceProtocolError.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Callable

from pymodbus import FramerType
from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from .base import (ConfigError, DeviceConfig, DeviceDisconnected, DeviceError, DeviceProtocolError,
                   DeviceTimeout, Sample)
from .decode import decode_map
from .register_map import RegisterMap

log = logging.getLogger(__name__)

# Modbus exception codes (Modbus application protocol v1.1b3 §7) as the status line shows them.
EXCEPTION_NAMES = {
    1: "função não suportada", 2: "endereço de registro inexistente", 3: "valor ilegal",
    4: "falha no dispositivo", 5: "pedido aceito, resposta demorada", 6: "dispositivo ocupado",
    8: "erro de paridade de memória", 10: "gateway sem caminho", 11: "gateway: dispositivo não respondeu",
}
ILLEGAL_ADDRESS = 2
# URL schemes pyserial opens without a device node; for these a missing path proves nothing.
_URL_PREFIXES = ("socket://", "rfc2217://", "loop://", "spy://", "alt://", "hwgrep://")


def route_pymodbus_logging() -> None:
    """Keep pymodbus off stderr: its records go to the application's handlers (root), quietly.

    Without a handler of its own, Python's last-resort handler prints pymodbus's records (one
    per failed connect, frame dumps at debug) on stderr, which a terminal UI cannot afford.
    Every pymodbus error we have seen duplicates a DeviceError raised here with a better
    message, so the default level is CRITICAL; set `logging.getLogger("pymodbus")` to DEBUG
    to see frames. An explicitly configured level is left alone.
    """
    logger = logging.getLogger("pymodbus")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.CRITICAL)


route_pymodbus_logging()


@dataclass(frozen=True, slots=True)
class Span:
    """Registers one map entry occupies (a field or a scale register), in map numbering."""

    function: int
    register: int
    words: int
    label: str
    optional: bool


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One request: `count` registers from `register`, covering `spans`."""

    function: int
    register: int
    count: int
    spans: tuple[Span, ...]


def map_spans(regmap: RegisterMap) -> tuple[Span, ...]:
    spans = [Span(s.function, s.register, 1, f"escala {s.name} (registro {s.register})", False)
             for s in regmap.scales]
    spans += [Span(f.function, f.register, f.words, f.label, f.optional) for f in regmap.fields]
    return tuple(spans)


def plan_reads(spans: tuple[Span, ...], max_gap: int, max_read: int) -> tuple[ReadBlock, ...]:
    """Group spans of one function into requests, reading through gaps of at most `max_gap`."""
    blocks: list[ReadBlock] = []
    for function in sorted({s.function for s in spans}):
        current: list[Span] = []
        for span in sorted((s for s in spans if s.function == function), key=lambda s: s.register):
            if current:
                start = current[0].register
                end = max(s.register + s.words for s in current)
                fits = span.register + span.words - start <= max_read
                if span.register - end <= max_gap and fits:
                    current.append(span)
                    continue
                blocks.append(_block(current))
            current = [span]
        if current:
            blocks.append(_block(current))
    return tuple(blocks)


def _block(spans: list[Span]) -> ReadBlock:
    start = spans[0].register
    end = max(s.register + s.words for s in spans)
    return ReadBlock(spans[0].function, start, end - start, tuple(spans))


def _socket_url(url: str) -> tuple[str, int]:
    """socket://host:port → (host, port)."""
    rest = url[len("socket://"):].split("?", 1)[0].rstrip("/")
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"porta {url!r}: use socket://host:porta")
    return host.strip("[]"), int(port)


class _IllegalAddress(Exception):
    """Exception reply 2: at least one register of the request does not exist on this device."""


class ModbusDevice:
    """A meter read over Modbus TCP (config.host) or RTU (config.porta, serial or socket://)."""

    def __init__(self, config: DeviceConfig, regmap: RegisterMap,
                 clock_ms: Callable[[], int] | None = None) -> None:
        self.config = config
        self.map = regmap
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._spans = map_spans(regmap)
        self._absent: set[Span] = set()  # optional entries this device turned out not to have
        self._plan = plan_reads(self._spans, regmap.max_gap, regmap.max_read)
        self._received = False  # any byte came back for the current request (set by _trace)
        self.requests = 0  # Modbus requests sent, for measurements and tests
        self._client = self._make_client()

    @property
    def ausentes(self) -> tuple[str, ...]:
        """Optional registers this device does not have (left out of every sample)."""
        return tuple(sorted(s.label for s in self._absent))

    def open(self) -> None:
        """Connect now; DeviceDisconnected if the port or host is not reachable."""
        if self._client.connected:
            return
        porta = self.config.porta
        if porta is not None and not porta.startswith(_URL_PREFIXES) and not os.path.exists(porta):
            raise DeviceDisconnected(f"porta {porta} não existe (cabo USB desconectado?)")
        try:
            ok = self._client.connect()
        except (ModbusException, OSError) as exc:
            raise DeviceDisconnected(f"não foi possível conectar a {self.config.onde}: {exc}") from exc
        if not ok:
            raise DeviceDisconnected(f"não foi possível conectar a {self.config.onde}")

    def read(self) -> Sample:
        start = self._clock_ms()
        try:
            self.open()
            words: dict[tuple[int, int], int] = {}
            for block in self._plan:
                self._read_block(block, words)
            decoded = decode_map(self.map, words)
        except DeviceError:
            self._client.close()  # start the next attempt from a clean connection
            raise
        except Exception as exc:  # the agent must never die of a driver bug; say it loudly
            log.exception("unexpected error reading %s", self.config.onde)
            self._client.close()
            raise DeviceProtocolError(f"erro inesperado no driver Modbus: {exc!r}") from exc
        # Stamp the middle of the exchange: at 9600 baud a read takes ~0.2 s.
        ts = (start + self._clock_ms()) // 2
        return Sample(ts, decoded.medidas, decoded.energia_wh, decoded.potencia_w)

    def close(self) -> None:
        self._client.close()

    def _read_block(self, block: ReadBlock, words: dict[tuple[int, int], int]) -> None:
        try:
            self._store(block.function, block.register, self._request(block), words)
            return
        except _IllegalAddress:
            pass
        # Some register of the block is missing: find which, one entry at a time, and stop
        # asking for optional ones for the life of this device.
        for span in block.spans:
            single = ReadBlock(span.function, span.register, span.words, (span,))
            try:
                self._store(span.function, span.register, self._request(single), words)
            except _IllegalAddress:
                if not span.optional:
                    raise DeviceProtocolError(
                        f"{self.map.model}: {span.label} não existe no dispositivo "
                        f"(exceção Modbus {ILLEGAL_ADDRESS}); confira o modelo e o mapa") from None
                log.warning("%s: %s absent, left out from now on", self.map.model, span.label)
                self._absent.add(span)
        remaining = tuple(s for s in self._spans if s not in self._absent)
        self._plan = plan_reads(remaining, self.map.max_gap, self.map.max_read)

    def _store(self, function: int, register: int, registers: list[int],
               words: dict[tuple[int, int], int]) -> None:
        for i, value in enumerate(registers):
            words[(function, register + i)] = value

    def _request(self, block: ReadBlock) -> list[int]:
        address = self.map.wire_address(block.register)
        call = (self._client.read_holding_registers if block.function == 3
                else self._client.read_input_registers)
        self._received = False
        self.requests += 1
        try:
            response = call(address, count=block.count, device_id=self.config.endereco)
        except ConnectionException as exc:
            raise DeviceDisconnected(f"conexão com {self.config.onde} perdida ou recusada") from exc
        except ModbusIOException as exc:
            if self._received:
                raise DeviceProtocolError(f"resposta corrompida de {self.config.onde} "
                                          f"(CRC ou quadro inválido)") from exc
            raise DeviceTimeout(f"{self.config.onde} não respondeu em {self.config.timeout_s:g} s "
                                f"(endereço {self.config.endereco})") from exc
        except ModbusException as exc:
            raise DeviceProtocolError(f"resposta inválida de {self.config.onde}: {exc}") from exc
        if response.isError():
            code = getattr(response, "exception_code", 0)
            if code == ILLEGAL_ADDRESS:
                raise _IllegalAddress()
            name = EXCEPTION_NAMES.get(code, "código desconhecido")
            raise DeviceProtocolError(f"{self.config.onde} recusou a leitura do registro "
                                      f"{block.register}: exceção Modbus {code} ({name})")
        registers = list(response.registers)
        if len(registers) != block.count:
            raise DeviceProtocolError(f"{self.config.onde} devolveu {len(registers)} registros, "
                                      f"pedidos {block.count}")
        return registers

    def _trace(self, sending: bool, data: bytes) -> bytes:
        # pymodbus hands every received buffer here before framing it: bytes that never make a
        # valid frame mean corruption (CRC), not silence.
        if not sending and data:
            self._received = True
        return data

    def _make_client(self) -> Any:
        config = self.config
        common: dict[str, Any] = dict(timeout=config.timeout_s,
                                      retries=0,  # the agent retries, with backoff and status
                                      trace_packet=self._trace)
        if config.host is not None:
            return ModbusTcpClient(config.host, port=config.tcp_porta, **common)
        assert config.porta is not None
        if config.porta.startswith("socket://"):
            # RTU framing over TCP (serial-to-Ethernet gateways, the simulator). pymodbus's
            # serial client on pyserial's socket:// polls at the serial character time, about
            # 0.3 s per request at 9600 baud even on loopback; its TCP client with the RTU
            # framer puts the same bytes on the wire in under a millisecond (measured).
            host, port = _socket_url(config.porta)
            return ModbusTcpClient(host, port=port, framer=FramerType.RTU, **common)
        return ModbusSerialClient(config.porta, framer=FramerType.RTU, baudrate=config.baud,
                                  bytesize=config.bits, parity=config.paridade, stopbits=1, **common)
