"""Map files: the shipped ones load, mistakes name the file and field, a new file needs no code."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from drivers import ConfigError, DeviceConfig, MapError, available_models, open_device
from drivers.register_map import MAPS_DIR, load_register_map, parse_register_map
from drivers.simulated import ModbusSimulator, constant

NEW_METER = """
# A meter nobody wrote code for: float32 registers, low word first, input registers.
protocol = "modbus"
model = "{name}"
description = "Medidor de teste"
register_base = 1
max_gap = 4

[defaults]
function = 4
type = "float32"
word_order = "little"

[[fields]]
code = "PAT"
register = 101
unit = "kW"

[[fields]]
code = "CEA"
register = 103
unit = "kWh"

[[fields]]
code = "FRE"
register = 109
unit = "Hz"
"""


def test_shipped_maps_are_listed_and_load() -> None:
    assert {"pm710", "pm500", "das8000", "cvmk"} <= set(available_models())
    for model in ("pm710", "pm500", "das8000"):
        assert load_register_map(model).fields


def read_new_meter(model: str) -> tuple[float | None, float | None, dict]:
    # A frozen clock: no energy accumulates between start() and read(), however slow the machine.
    sim = ModbusSimulator(model, constant(2750.0), start_kwh=42.5, clock=lambda: 1_800_000_000.0)
    _, port = sim.start()
    device = open_device(DeviceConfig("modbus", model, host="127.0.0.1", tcp_porta=port))
    try:
        sample = device.read()
    finally:
        device.close()
        sim.stop()
    return sample.potencia_w, sample.energia_wh, dict(sample.medidas)


def test_a_map_file_dropped_in_the_maps_folder_is_a_new_model_with_no_code() -> None:
    name = f"teste_{uuid.uuid4().hex[:8]}"
    path = MAPS_DIR / f"{name}.toml"
    path.write_text(NEW_METER.format(name=name), encoding="utf-8")
    try:
        assert name in available_models()
        power, energy, medidas = read_new_meter(name)
    finally:
        path.unlink()
    assert power == pytest.approx(2750.0, rel=1e-6)
    assert energy == pytest.approx(42_500.0, rel=1e-6)
    assert medidas["FRE"] == pytest.approx(60.0, abs=0.05)


def test_a_map_file_given_by_path_is_used(tmp_path: Path) -> None:
    path = tmp_path / "medidor_do_cliente.toml"
    path.write_text(NEW_METER.format(name="medidor_do_cliente"), encoding="utf-8")
    power, _, _ = read_new_meter(str(path))
    assert power == pytest.approx(2750.0, rel=1e-6)


def base_doc(**field: object) -> dict:
    entry = {"code": "PAT", "register": 10, "type": "int16", "unit": "W"}
    entry.update(field)
    return {"fields": [entry]}


@pytest.mark.parametrize("doc,message", [
    (base_doc(type="int8"), r"x\.toml: fields\[0\].*type 'int8' desconhecido"),
    (base_doc(code="XYZ"), r"fields\[0\]: code 'XYZ' desconhecido"),
    (base_doc(unit="kWh"), r"registro 10\): PAT é medido em W, não em kWh"),
    (base_doc(unit="furlong"), r"unidade 'furlong' desconhecida"),
    (base_doc(scale="W"), r"scale 'W' não está em \[scales\]"),
    (base_doc(regsiter=11), r"chave desconhecida regsiter"),
    (base_doc(function=6), r"function deve ser 3 \(holding\) ou 4 \(input\)"),
    (base_doc(register=0), r"register 0 fora de 1\.\.65536"),
    (base_doc(factor=0), r"factor deve ser um número finito diferente de zero"),
    (base_doc(word_order="middle"), r"word_order"),
    (base_doc(raw_min=10, raw_max=1), r"raw_min maior que raw_max"),
    ({"fields": []}, r"falta a lista \[\[fields\]\]"),
    ({"protocol": "cirbus", "fields": []}, r"esperado \"modbus\""),
    ({"fields": [{"code": "TPF", "phase": 0, "register": 1, "type": "uint16", "unit": "V"},
                 {"code": "TPF", "phase": 2, "register": 2, "type": "uint16", "unit": "V"}]},
     r"as fases de TPF devem ser 0\.\.1"),
    ({"fields": [{"code": "CEA", "register": 1, "type": "uint32", "unit": "kWh"},
                 {"code": "PAT", "register": 2, "type": "int16", "unit": "W"}]},
     r"registro 2 usado por CEA \(registro 1\) e por PAT \(registro 2\)"),
    ({"fields": [{"code": "PAT", "register": 1, "type": "int16", "unit": "W"},
                 {"code": "PAT", "register": 2, "type": "int16", "unit": "W"}]},
     r"PAT aparece mais de uma vez"),
])
def test_map_mistakes_name_the_file_and_field(doc: dict, message: str) -> None:
    with pytest.raises(MapError, match=message):
        parse_register_map(doc, "x.toml")


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "quebrado.toml"
    path.write_text("fields = [\n", encoding="utf-8")
    with pytest.raises(MapError, match="quebrado.toml: TOML inválido"):
        load_register_map(str(path))


def test_unknown_model_is_a_config_error_not_a_device_error() -> None:
    with pytest.raises(ConfigError, match="modelos conhecidos: .*pm710"):
        open_device(DeviceConfig("modbus", "pm9000", host="127.0.0.1"))


def test_units_are_converted_to_the_code_unit() -> None:
    regmap = parse_register_map(base_doc(unit="kW", factor=0.01), "x.toml")
    assert regmap.fields[0].factor == pytest.approx(10.0)
