"""From a DeviceConfig to an open Device: the one place that knows every driver."""
from __future__ import annotations

from .base import ConfigError, Device, DeviceConfig, DeviceError
from .cirbus import CirbusDevice, load_cirbus_map
from .modbus import ModbusDevice
from .pulses import PulseDevice
from .register_map import load_register_map

DEFAULT_CIRBUS_MODEL = "cvmk"


def open_device(config: DeviceConfig, *, start_wh: float = 0.0) -> Device:
    """Build the driver for `config` and open its port or connection.

    Raises ConfigError (a MapError for a bad or unknown map) when the configuration can never
    work, and a DeviceError when the device cannot be reached now; the agent retries only the
    latter. Devices reconnect by themselves on the next read() after a failure, so one open
    device can be kept for the life of the agent. `start_wh` continues a pulse counter across
    agent restarts (the Arduino itself keeps no total).
    """
    if config.fonte == "modbus":
        assert config.modelo is not None
        device: ModbusDevice | CirbusDevice | PulseDevice = ModbusDevice(config, load_register_map(config.modelo))
    elif config.fonte == "cirbus":
        device = CirbusDevice(config, load_cirbus_map(config.modelo or DEFAULT_CIRBUS_MODEL))
    elif config.fonte == "pulsos":
        device = PulseDevice(config, start_wh=start_wh)
    else:  # DeviceConfig validates fonte; this guards a future source added there only
        raise ConfigError(f"fonte sem driver: {config.fonte}")
    try:
        device.open()
    except DeviceError:
        device.close()
        raise
    return device
