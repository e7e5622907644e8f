"""DeviceConfig and Sample validate themselves; the public names are importable from `drivers`."""
from __future__ import annotations

import pytest

import drivers
from drivers import ConfigError, Device, DeviceConfig, Sample


@pytest.mark.parametrize("kwargs,message", [
    ({"fonte": "zigbee"}, "fonte desconhecida"),
    ({"fonte": "modbus", "host": "h"}, "precisa de um modelo"),
    ({"fonte": "modbus", "modelo": "pm710"}, "host .* ou porta"),
    ({"fonte": "modbus", "modelo": "pm710", "host": "h", "porta": "/dev/ttyUSB0"}, "não ambos"),
    ({"fonte": "pulsos"}, "precisa de uma porta"),
    ({"fonte": "pulsos", "porta": "/dev/x", "pulsos_por_kwh": 0}, "pulsos_por_kwh"),
    ({"fonte": "cirbus", "porta": "/dev/x", "endereco": 100}, "dois dígitos"),
    ({"fonte": "cirbus", "porta": "/dev/x", "paridade": "X"}, "paridade"),
    ({"fonte": "cirbus", "porta": "/dev/x", "timeout_s": 0}, "timeout_s"),
    ({"fonte": "cirbus", "porta": "/dev/x", "bits": 9}, "bits"),
])
def test_impossible_configs_are_refused_in_portuguese(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DeviceConfig(**kwargs)


def test_sample_requires_sorted_known_codes_and_finite_values() -> None:
    Sample(1, (("FRE", 60.0), ("PAT", 1.0)), None, 1.0)
    with pytest.raises(ValueError):
        Sample(1, (("PAT", 1.0), ("FRE", 60.0)), None, 1.0)
    with pytest.raises(ValueError):
        Sample(1, (("XYZ", 1.0),), None, None)
    with pytest.raises(ValueError):
        Sample(1, (("PAT", float("inf")),), None, None)
    with pytest.raises(ValueError):
        Sample(1, (("TPF", (1.0,) * 5),), None, None)


def test_sample_medida_looks_a_code_up() -> None:
    sample = Sample(1, (("PAT", 5.0), ("TPF", (220.0, 221.0))), 3.0, 5.0)
    assert sample.medida("TPF") == (220.0, 221.0) and sample.medida("FRE") is None


def test_public_interface() -> None:
    for name in ("Sample", "DeviceError", "DeviceTimeout", "DeviceProtocolError", "DeviceDisconnected",
                 "Device", "DeviceConfig", "open_device", "EnergyIntegrator", "Backoff"):
        assert hasattr(drivers, name)
    assert issubclass(drivers.DeviceTimeout, drivers.DeviceError)
    from drivers.simulated import CirbusResponder, ModbusSimulator, PulseEmitter  # noqa: F401


def test_devices_satisfy_the_protocol() -> None:
    from drivers.cirbus import CirbusDevice, load_cirbus_map
    from drivers.pulses import PulseDevice
    config = DeviceConfig("cirbus", porta="/dev/null")
    assert isinstance(CirbusDevice(config, load_cirbus_map("cvmk")), Device)
    assert isinstance(PulseDevice(DeviceConfig("pulsos", porta="/dev/null")), Device)


def test_simulators_and_pulse_reader_leave_no_thread_behind() -> None:
    import threading

    from drivers import open_device
    from drivers.simulated import CirbusResponder, ModbusSimulator, PulseEmitter, constant

    before = set(threading.enumerate())
    sim = ModbusSimulator("pm710", constant(100.0))
    sim.start()
    responder = CirbusResponder(constant(100.0))
    responder.start()
    emitter = PulseEmitter(constant(100.0))
    reader = open_device(DeviceConfig("pulsos", porta=emitter.start()))
    assert len(set(threading.enumerate()) - before) == 4
    reader.close()
    for owner in (sim, responder, emitter):
        owner.stop()
        owner.stop()  # idempotent
    assert set(threading.enumerate()) - before == set()
