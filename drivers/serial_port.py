"""Opening a serial port with pyserial and turning its failures into DeviceError.

pyserial raises SerialException for a missing port, a port in use and an unplugged cable, and
plain OSError/termios.error from deeper down; the agent only needs to know that the port is
gone, and a pt-BR sentence saying which.
"""
from __future__ import annotations

import logging
from typing import Any

import serial

from .base import DeviceConfig, DeviceDisconnected

log = logging.getLogger(__name__)

try:
    from termios import error as TermiosError
except ImportError:  # Windows: no termios, pyserial raises SerialException there
    class TermiosError(Exception):  # type: ignore[no-redef]
        """Never raised; keeps PORT_ERRORS one tuple on every platform."""

_PARITY = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD,
           "M": serial.PARITY_MARK, "S": serial.PARITY_SPACE}

# Errors that mean the port is unusable now. termios.error is not an OSError: pyserial lets it
# through from reset_input_buffer() (tcflush) once the other end of a pty or a USB adapter is
# gone (measured: error(5, 'Input/output error') after the master side closed).
PORT_ERRORS: tuple[type[BaseException], ...] = (serial.SerialException, OSError, ValueError, TermiosError)


def open_serial(config: DeviceConfig, read_timeout_s: float) -> serial.SerialBase:
    """Open `config.porta` (a device path or a pyserial URL such as socket://h:p).

    Raises DeviceDisconnected when the port is missing, busy or refuses its settings.
    """
    assert config.porta is not None
    try:
        port: Any = serial.serial_for_url(
            config.porta, baudrate=config.baud, bytesize=config.bits,
            parity=_PARITY[config.paridade], stopbits=serial.STOPBITS_ONE,
            timeout=read_timeout_s, write_timeout=config.timeout_s,
            # Two programs reading one meter interleave bytes and both see garbage.
            # (URL handlers such as socket:// accept and ignore it.)
            exclusive=True,
        )
    except PORT_ERRORS as exc:
        raise DeviceDisconnected(f"não foi possível abrir {config.porta}: {_reason(exc)}") from exc
    try:
        # Bytes queued before we opened belong to nobody's request (or are half a pulse line).
        port.reset_input_buffer()
    except PORT_ERRORS as exc:
        close_quietly(port)
        raise DeviceDisconnected(f"{config.porta} falhou ao abrir: {_reason(exc)}") from exc
    return port


def close_quietly(port: Any) -> None:
    """Close a port that may already be broken; closing must never raise into the agent."""
    try:
        port.close()
    except PORT_ERRORS as exc:
        log.debug("closing %s: %s", getattr(port, "port", port), exc)


def disconnected(where: str, exc: BaseException) -> DeviceDisconnected:
    """The DeviceDisconnected for a port that failed mid-use."""
    return DeviceDisconnected(f"{where} desconectado: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, TermiosError) and len(exc.args) == 2:
        return str(exc.args[1])
    return str(exc) or type(exc).__name__
