"""CIRBUS, the Circutor CVMk's ASCII protocol: pure frame code, the command map, the serial device.

Request: "$" + 2-digit address + command + checksum + LF. Reply: "$" + fixed-width decimal fields
+ checksum + LF. The checksum is the sum of every preceding byte of the frame ("$" included)
mod 256, as two hex digits. A CR before the LF is tolerated (RS-485 converters add one).
The reply is assumed not to echo the address (docs/protocolos.md §6: what is known lists only the fields): on a bus with
several CVMk the address in the request is what selects the responder.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .base import (DeviceConfig, DeviceError, DeviceProtocolError,
                   DeviceTimeout, Sample)
from .decode import assemble, summarize
from .register_map import (MapError, Target, check_targets, parse_target, read_map_document,
                           unit_factor)
from .serial_port import PORT_ERRORS, close_quietly, disconnected, open_serial

# Longest frame accepted: the widest CVMk reply is 4 × 9 digits + "$" + checksum + CR LF = 41
# bytes. Anything much longer without an LF is line noise, not a reply still arriving.
MAX_FRAME_BYTES = 128
_COMMAND = re.compile(r"^[A-Z]{3}$")
_FIELD = re.compile(rb"^-?[0-9]+$")
_HEX = b"0123456789ABCDEFabcdef"


def checksum(data: bytes) -> bytes:
    """Sum of the bytes mod 256, two uppercase hex digits."""
    return b"%02X" % (sum(data) % 256)


def build_request(address: int, command: str) -> bytes:
    """The request frame for `command` to the device at `address` (0–99)."""
    if not 0 <= address <= 99:
        raise ValueError("CIRBUS addresses have two digits")
    if not _COMMAND.match(command):
        raise ValueError("CIRBUS commands are three capital letters")
    body = b"$%02d%s" % (address, command.encode("ascii"))
    return body + checksum(body) + b"\n"


def parse_request(frame: bytes) -> tuple[int, str]:
    """(address, command) from a request frame without its line end (for responders)."""
    frame = frame.rstrip(b"\r\n")
    if len(frame) != 8 or frame[:1] != b"$":
        raise DeviceProtocolError(f"pedido CIRBUS malformado: {frame[:20]!r}")
    _verify(frame)
    digits, command = frame[1:3], frame[3:6]
    if not digits.isdigit() or not _COMMAND.match(command.decode("ascii", "replace")):
        raise DeviceProtocolError(f"pedido CIRBUS malformado: {frame!r}")
    return int(digits), command.decode("ascii")


def build_reply(values: Sequence[int], width: int) -> bytes:
    """A reply carrying `values` as fixed-width, zero-padded fields (a '-' takes one digit)."""
    fields = []
    for value in values:
        text = b"%0*d" % (width, value)
        if len(text) != width:
            raise ValueError(f"{value} does not fit {width} characters")
        fields.append(text)
    body = b"$" + b"".join(fields)
    return body + checksum(body) + b"\n"


def parse_reply(frame: bytes, count: int, width: int) -> tuple[int, ...]:
    """The `count` integers of a reply frame (line end optional); DeviceProtocolError if malformed."""
    frame = frame.rstrip(b"\r\n")
    if frame[:1] != b"$":
        raise DeviceProtocolError("resposta CIRBUS sem '$' inicial")
    expected = 1 + count * width + 2
    if len(frame) != expected:
        raise DeviceProtocolError(f"resposta CIRBUS com {len(frame)} bytes, esperados {expected}")
    _verify(frame)
    values = []
    for i in range(count):
        field = frame[1 + i * width:1 + (i + 1) * width]
        if not _FIELD.match(field):
            raise DeviceProtocolError(f"campo CIRBUS não numérico: {field!r}")
        values.append(int(field))
    return tuple(values)


def _verify(frame: bytes) -> None:
    body, given = frame[:-2], frame[-2:]
    if not all(c in _HEX for c in given):
        raise DeviceProtocolError(f"checksum CIRBUS ilegível: {given!r}")
    if given.upper() != checksum(body):
        raise DeviceProtocolError(f"checksum CIRBUS inválido: recebido {given.decode()}, "
                                  f"calculado {checksum(body).decode()}")


class FrameReader:
    """Sans-I/O: bytes in, complete "$…" frames out; noise between frames is skipped and counted."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.skipped = 0  # bytes discarded as noise

    @property
    def pending(self) -> int:
        """Bytes of a frame started but not yet ended by LF."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        frames = []
        for byte in data:
            if not self._buffer:
                if byte == 0x24:  # "$"
                    self._buffer.append(byte)
                else:
                    self.skipped += 1
                continue
            if byte == 0x24:  # a new frame starts: the unterminated one was noise
                self.skipped += len(self._buffer)
                self._buffer = bytearray(b"$")
            elif byte == 0x0A:
                frames.append(bytes(self._buffer))
                self._buffer.clear()
            else:
                self._buffer.append(byte)
                if len(self._buffer) > MAX_FRAME_BYTES:
                    self.skipped += len(self._buffer)
                    self._buffer.clear()
        return frames


@dataclass(frozen=True, slots=True)
class CirbusCommand:
    """One read command: its reply has len(targets) fields of `width` characters."""

    command: str
    width: int
    factor: float  # includes the unit conversion to each code's unit
    targets: tuple[Target | None, ...]  # None: a field the reply carries but we do not map


@dataclass(frozen=True, slots=True)
class CirbusMap:
    model: str
    description: str
    commands: tuple[CirbusCommand, ...]

    def phases(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for command in self.commands:
            for t in command.targets:
                if t is not None:
                    out[t.code] = max(out.get(t.code, 0), 0 if t.phase is None else t.phase + 1)
        return out


def load_cirbus_map(model: str) -> CirbusMap:
    """Load a CIRBUS command map by model name or path; raises MapError."""
    path, doc = read_map_document(model)
    return parse_cirbus_map(doc, path.name)


def parse_cirbus_map(doc: Mapping[str, Any], where: str) -> CirbusMap:
    if doc.get("protocol") != "cirbus":
        raise MapError(f"{where}: protocol = {doc.get('protocol')!r}, esperado \"cirbus\"")
    unknown = sorted(set(doc) - {"protocol", "model", "description", "commands"})
    if unknown:
        raise MapError(f"{where}: chave desconhecida {', '.join(unknown)}")
    commands_doc = doc.get("commands")
    if not isinstance(commands_doc, list) or not commands_doc:
        raise MapError(f"{where}: falta a lista [[commands]]")
    commands = []
    all_targets: list[Target] = []
    for i, entry in enumerate(commands_doc):
        at = f"{where}: commands[{i}]"
        if not isinstance(entry, dict):
            raise MapError(f"{at}: deve ser uma tabela")
        extra = sorted(set(entry) - {"command", "width", "unit", "factor", "fields"})
        if extra:
            raise MapError(f"{at}: chave desconhecida {', '.join(extra)}")
        command = entry.get("command")
        if not isinstance(command, str) or not _COMMAND.match(command):
            raise MapError(f"{at}: command deve ter três letras maiúsculas")
        width = entry.get("width")
        if isinstance(width, bool) or not isinstance(width, int) or not 1 <= width <= 18:
            raise MapError(f"{at}: width deve ser um inteiro de 1 a 18")
        factor = entry.get("factor", 1)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) \
                or not math.isfinite(factor) or factor == 0:
            raise MapError(f"{at}: factor deve ser um número finito diferente de zero")
        fields = entry.get("fields")
        if not isinstance(fields, list) or not fields:
            raise MapError(f"{at}: fields deve listar os campos da resposta")
        if 1 + len(fields) * width + 2 > MAX_FRAME_BYTES - 2:
            raise MapError(f"{at}: resposta maior que {MAX_FRAME_BYTES} bytes")
        targets: list[Target | None] = []
        unit = entry.get("unit")
        conversion = None
        for j, field in enumerate(fields):
            if not isinstance(field, dict):
                raise MapError(f"{at}.fields[{j}]: deve ser uma tabela ({{}} para ignorar)")
            if not field:
                targets.append(None)
                continue
            target = parse_target(field, f"{at}.fields[{j}]")
            this = unit_factor(target.code, unit if isinstance(unit, str) else "", f"{at}.fields[{j}]")
            if conversion is not None and this != conversion:
                raise MapError(f"{at}: campos com unidades diferentes num mesmo comando")
            conversion = this
            targets.append(target)
            all_targets.append(target)
        commands.append(CirbusCommand(command, width, float(factor) * (conversion or 1.0), tuple(targets)))
    check_targets(all_targets, where)
    return CirbusMap(str(doc.get("model", where)), str(doc.get("description", "")), tuple(commands))


def decode_replies(cmap: CirbusMap, replies: Mapping[str, tuple[int, ...]]) -> list[tuple[Target, float]]:
    """Pure: raw reply integers per command to (target, value) pairs."""
    parts = []
    for command in cmap.commands:
        values = replies.get(command.command)
        if values is None:
            continue
        for target, raw in zip(command.targets, values):
            if target is not None:
                parts.append((target, float(round(raw * command.factor, 9))))
    return parts


class CirbusDevice:
    """A CVMk on a serial port; reopens the port on the next read after an unplug."""

    # pyserial read timeout while waiting for reply bytes; short, so the deadline is honoured.
    _POLL_S = 0.05

    def __init__(self, config: DeviceConfig, cmap: CirbusMap) -> None:
        self.config = config
        self.map = cmap
        self._port: Any = None
        self.skipped_bytes = 0  # noise seen on the line, for the agent's status

    def open(self) -> None:
        if self._port is None:
            self._port = open_serial(self.config, self._POLL_S)

    def read(self) -> Sample:
        try:
            self.open()
            replies = {c.command: self._transact(c.command, len(c.targets), c.width)
                       for c in self.map.commands}
        except DeviceError:
            raise
        except Exception as exc:  # the agent must never die of a driver bug; say it loudly
            raise DeviceProtocolError(f"erro inesperado no driver CIRBUS: {exc!r}") from exc
        decoded = summarize(assemble(decode_replies(self.map, replies), self.map.phases()))
        return Sample(int(time.time() * 1000), decoded.medidas, decoded.energia_wh, decoded.potencia_w)

    def close(self) -> None:
        if self._port is not None:
            close_quietly(self._port)
            self._port = None

    def _transact(self, command: str, count: int, width: int) -> tuple[int, ...]:
        port = self._port
        reader = FrameReader()
        try:
            # A late reply to an earlier, timed-out request must not be taken for this one.
            port.reset_input_buffer()
            port.write(build_request(self.config.endereco, command))
            deadline = time.monotonic() + self.config.timeout_s
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                port.timeout = min(self._POLL_S, remaining)
                data = port.read(max(1, port.in_waiting))
                for frame in reader.feed(data):
                    self.skipped_bytes += reader.skipped
                    return parse_reply(frame, count, width)
        except PORT_ERRORS as exc:
            self.close()
            raise disconnected(self.config.porta or "porta", exc) from exc
        self.skipped_bytes += reader.skipped
        if reader.pending:
            raise DeviceProtocolError(f"CIRBUS {command}: resposta incompleta ({reader.pending} bytes sem fim de linha)")
        if reader.skipped:
            raise DeviceProtocolError(f"CIRBUS {command}: só ruído na linha ({reader.skipped} bytes)")
        raise DeviceTimeout(f"CIRBUS {command}: sem resposta do endereço {self.config.endereco:02d} "
                            f"em {self.config.timeout_s:g} s")
