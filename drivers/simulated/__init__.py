"""Devices without hardware: a Modbus analyzer, a CIRBUS responder and an Arduino pulse emitter."""
from .cirbus_sim import CirbusResponder
from .meter import MeterState, Profile, commercial, constant, profile_by_name, residential, solar
from .modbus_sim import ModbusSimulator
from .pulse_sim import PulseEmitter

__all__ = [
    "CirbusResponder", "MeterState", "ModbusSimulator", "Profile", "PulseEmitter",
    "commercial", "constant", "profile_by_name", "residential", "solar",
]
