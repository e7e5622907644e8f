"""A hardware meter through the `drivers` package: Modbus analyzers, CIRBUS, pulse counters.

The device is opened lazily and reopened after a disconnection; every driver failure reaches
the agent as a SourceError, which it retries with backoff and never dies of.
"""
from __future__ import annotations

import logging
from collections import deque
from typing import Any

from shared.models import MAX_VALUES_PER_CODE, MEASUREMENT_CODES
from medidor.config import AgentConfig, ConfigError
from medidor.sources import Measurement

log = logging.getLogger("medidor.dispositivo")

# Blinks one reading carries: a spooled reading is at most 16 KiB and a blink is at most 30 bytes
# of JSON. 400 per 10-s reading is 144 kW on a 1000 imp/kWh meter; more wait for the next readings.
MAX_PULSES_PER_READING = 400
# The server stores an interval as int32: a longer one (25 days without a blink) is not a blink
# interval worth keeping; the energy of that blink is in the counter all the same.
MAX_PULSE_MS = 2**31 - 1
# Blinks waiting for a reading (the device keeps as many of its own while nobody reads it):
# 10 minutes at 10 blinks a second. Beyond that the oldest go; the energy counter keeps them.
MAX_WAITING_PULSES = 6000


class SourceError(Exception):
    """The device could not be read now; the message is pt-BR, for the status line."""


def device_config(config: AgentConfig) -> Any:
    """The drivers.DeviceConfig for this agent; raises ConfigError when it can never work."""
    import drivers

    d = config.dispositivo
    try:
        return drivers.DeviceConfig(fonte=config.fonte, modelo=d.modelo, porta=d.porta, baud=d.baud,
                                    paridade=d.paridade, bits=d.bits, timeout_s=d.timeout_s, endereco=d.endereco,
                                    host=d.host, tcp_porta=d.tcp_porta, pulsos_por_kwh=d.pulsos_por_kwh,
                                    sensor=d.sensor)
    except drivers.ConfigError as exc:
        raise ConfigError(f"{config.medidor}: {exc}") from None


def _clean(medidas: Any, wanted: tuple[str, ...] | None) -> tuple[tuple[str, Any], ...]:
    """The codes the server knows (and the config asked for), as Reading wants them."""
    out = []
    for code, value in medidas or ():
        if code not in MEASUREMENT_CODES or (wanted is not None and code not in wanted):
            continue
        if isinstance(value, (list, tuple)):
            value = tuple(float(v) for v in value[:MAX_VALUES_PER_CODE])
        else:
            value = float(value)
        out.append((code, value))
    return tuple(sorted(out))


class DeviceSource:
    """Reads a device now (`ts_ms` is ignored: hardware cannot be read in the past)."""

    replayable = False

    def __init__(self, config: AgentConfig, *, start_wh: float | None) -> None:
        import drivers

        self._drivers = drivers
        self._name = config.medidor
        self._config = device_config(config)
        self._wanted = config.codigos
        self._device: Any = None
        self._integrator: Any = None
        self._start_wh = start_wh or 0.0
        self._last_wh: float | None = start_wh
        self._pulses: deque[tuple[int, int]] = deque(maxlen=MAX_WAITING_PULSES)
        modelo = config.dispositivo.modelo
        self.description = f"{config.fonte} {modelo}" if modelo else config.fonte
        self.multiplier = config.multiplicador

    def set_multiplier(self, value: float) -> None:
        # A real meter's consumption cannot be scaled: the value is only reported to the server.
        self.multiplier = value

    def set_codes(self, codes: tuple[str, ...] | None) -> None:
        """The codes sent from the next read on (RELOAD of config.xml's <peticions>)."""
        self._wanted = codes

    def measure(self, ts_ms: int) -> Measurement:
        drivers = self._drivers
        try:
            if self._device is None:
                # A pulse counter keeps no total of its own: it continues from the last reading,
                # also when it is reopened after an unplug (else the server would see a reset).
                resume = self._last_wh if self._last_wh is not None else self._start_wh
                self._device = drivers.open_device(self._config, start_wh=resume)
                log.info("%s: %s aberto", self._name, self.description)
            sample = self._device.read()
        except drivers.ConfigError as exc:
            raise ConfigError(f"{self._name}: {exc}") from None
        except drivers.DeviceError as exc:
            # Devices reconnect by themselves on the next read(); only a vanished transport is
            # closed and reopened, which also re-finds a serial adapter plugged back in.
            if isinstance(exc, drivers.DeviceDisconnected):
                self._close_device()
            raise SourceError(self._describe(exc)) from exc
        return self._to_measurement(sample)

    def _to_measurement(self, sample: Any) -> Measurement:
        estimada = False
        energy = sample.energia_wh
        if energy is None:
            if sample.potencia_w is None:
                raise SourceError("o dispositivo não mede energia nem potência")
            # No energy register (PM500, DAS-8000): integrate power, and say so to the server.
            if self._integrator is None:
                self._integrator = self._drivers.EnergyIntegrator(start_wh=self._start_wh)
            energy = self._integrator.add(sample.ts_ms, sample.potencia_w)
            estimada = True
        elif self._last_wh is not None and energy + 1e-6 < self._last_wh and self._integrator is None:
            # A counter running back is a replaced or reset meter; the server marks it as a reset.
            log.warning("%s: contador voltou de %.3f para %.3f Wh (medidor trocado ou zerado?)",
                        self.description, self._last_wh, energy)
        self._last_wh = energy
        self._pulses.extend(p for p in getattr(sample, "pulsos", ()) if 0 < p[1] <= MAX_PULSE_MS)
        pulses = tuple(self._pulses.popleft() for _ in range(min(len(self._pulses), MAX_PULSES_PER_READING)))
        return Measurement(int(sample.ts_ms), round(float(energy), 3),
                           None if sample.potencia_w is None else round(float(sample.potencia_w), 1),
                           _clean(sample.medidas, self._wanted), estimada, pulses)

    def _close_device(self) -> None:
        if self._device is not None:
            try:
                self._device.close()
            except Exception:  # closing a device already gone must not hide the first error
                log.debug("erro ao fechar %s", self.description, exc_info=True)
            self._device = None

    def close(self) -> None:
        self._close_device()

    def _describe(self, exc: Exception) -> str:
        """The drivers' pt-BR message, or the kind of failure when it has none."""
        text = str(exc)
        if text:
            return text
        d = self._drivers
        if isinstance(exc, d.DeviceTimeout):
            return "sem resposta"
        if isinstance(exc, d.DeviceProtocolError):
            return "resposta inválida"
        if isinstance(exc, d.DeviceDisconnected):
            return "desconectado"
        return "falha"
