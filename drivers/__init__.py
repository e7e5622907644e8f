"""Drivers for the meters the agent reads: Modbus RTU/TCP maps, CIRBUS, the Arduino pulse counter."""
from shared.backoff import Backoff
from .base import (ConfigError, Device, DeviceConfig, DeviceDisconnected, DeviceError,
                   DeviceProtocolError, DeviceTimeout, Sample)
from .energy import MAX_GAP_MS, EnergyIntegrator
from .register_map import MapError, available_models
from .registry import open_device

__all__ = [
    "Backoff", "ConfigError", "Device", "DeviceConfig", "DeviceDisconnected", "DeviceError",
    "DeviceProtocolError", "DeviceTimeout", "EnergyIntegrator", "MAX_GAP_MS", "MapError",
    "Sample", "available_models", "open_device",
]
