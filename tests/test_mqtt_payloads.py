"""MQTT payloads of Tasmota, Shelly Gen2 and our plain JSON, as those devices publish them."""
from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, strategies as st

from medidor.mqtt_payloads import DeviceReading, PayloadError, parse

SP = ZoneInfo("America/Sao_Paulo")

# tele/tomada/SENSOR of a Tasmota plug (a Sonoff POW / Athom plug), as it publishes it.
TASMOTA = (b'{"Time":"2026-11-30T08:27:00","ENERGY":{"TotalStartTime":"2026-01-02T10:00:00","Total":12.345,'
           b'"Yesterday":1.2,"Today":0.456,"Period":2,"Power":120,"ApparentPower":130,"ReactivePower":50,'
           b'"Factor":0.92,"Voltage":229,"Current":0.55}}')
# shellyplus1pm-…/status/switch:0 of a Shelly Plus 1PM.
SHELLY = (b'{"id":0,"source":"timer","output":true,"apower":120.5,"voltage":229.1,"current":0.53,"pf":0.93,'
          b'"freq":60.0,"aenergy":{"total":12345.678,"by_minute":[1.9,2.0,2.0],"minute_ts":1764491220},'
          b'"temperature":{"tC":41.2,"tF":106.2}}')


def test_tasmota_total_kwh_becomes_the_wh_counter_at_the_plugs_local_time():
    reading = parse(TASMOTA, "tasmota", SP)
    assert reading.energia_wh == 12345.0
    assert reading.potencia_w == 120
    assert reading.ts_ms == int(datetime(2026, 11, 30, 8, 27, tzinfo=SP).timestamp() * 1000)
    assert dict(reading.medidas) == {"TPF": 229.0, "IPF": 0.55, "FPT": 0.92, "PAP": 130.0, "PRT": 50.0}


def test_tasmota_time_with_an_offset_is_taken_as_it_says():
    doc = json.loads(TASMOTA)
    doc["Time"] = "2026-11-30T11:27:00+00:00"
    assert parse(json.dumps(doc).encode(), "auto", SP).ts_ms == parse(TASMOTA, "auto", SP).ts_ms


def test_a_tasmota_plug_that_never_got_the_time_has_no_device_time():
    doc = json.loads(TASMOTA)
    doc["Time"] = "1970-01-01T00:00:12"
    assert parse(json.dumps(doc).encode(), "tasmota", SP).ts_ms is None


def test_a_two_relay_tasmota_sums_power_and_keeps_each_channel():
    doc = json.loads(TASMOTA)
    doc["ENERGY"].update(Power=[100, 20], Current=[0.45, 0.1], Voltage=229, Factor=[0.9, 0.8])
    reading = parse(json.dumps(doc).encode(), "tasmota", SP)
    assert reading.potencia_w == 120
    medidas = dict(reading.medidas)
    assert medidas["PAF"] == (100.0, 20.0) and medidas["IPF"] == (0.45, 0.1) and medidas["FPT"] == 0.85


def test_shelly_aenergy_total_is_already_wh_and_has_no_device_time():
    reading = parse(SHELLY, "shelly", SP)
    assert reading == DeviceReading(12345.678, 120.5, (("FPT", 0.93), ("FRE", 60.0), ("IPF", 0.53), ("TPF", 229.1)))


def test_plain_format_with_and_without_a_time():
    assert parse(b'{"energia_wh": 1500.5, "potencia_w": -300}', "simples", SP) == DeviceReading(1500.5, -300.0)
    stamped = parse(b'{"energia_wh": 1, "potencia_w": null, "ts": "2026-11-30T08:00:00-03:00"}', "auto", SP)
    assert stamped.potencia_w is None and stamped.ts_ms == int(datetime(2026, 11, 30, 8, tzinfo=SP).timestamp() * 1000)


@pytest.mark.parametrize("payload, kind", [(TASMOTA, "tasmota"), (SHELLY, "shelly"),
                                           (b'{"energia_wh": 3, "potencia_w": 1}', "simples")])
def test_auto_detects_each_format(payload: bytes, kind: str):
    assert parse(payload, "auto", SP) == parse(payload, kind, SP)


@pytest.mark.parametrize("payload, formato, said", [
    (b"ON", "auto", "não é JSON"),
    (b"[1, 2]", "auto", "objeto JSON"),
    (b'{"Time": "2026-11-30T08:27:00", "AM2301": {"Temperature": 21}}', "auto", "formato desconhecido"),
    (b'{"Time": "2026-11-30T08:27:00", "AM2301": {"Temperature": 21}}', "tasmota", "sem ENERGY"),
    (b'{"ENERGY": {"Power": 3}}', "tasmota", "ENERGY.Total"),
    (b'{"ENERGY": {"Total": "12"}}', "tasmota", "ENERGY.Total deve ser um número"),
    (b'{"ENERGY": {"Total": 1, "Power": true}}', "tasmota", "ENERGY.Power"),
    (b'{"apower": 3}', "shelly", "aenergy.total"),
    (b'{"energia_wh": 1, "ts": "2026-11-30T08:00:00"}', "simples", "sem fuso"),
    (b'{"potencia_w": 1}', "simples", "energia_wh"),
    (b'{"energia_wh": 1e999}', "simples", "número"),
    (b'{"energia_wh": 1}' + b" " * 70_000, "simples", "grande demais"),
])
def test_messages_without_a_reading_say_why(payload: bytes, formato: str, said: str):
    with pytest.raises(PayloadError, match=said):
        parse(payload, formato, SP)


@given(st.binary(max_size=300))
def test_any_bytes_give_a_reading_or_a_payload_error(data: bytes):
    try:
        parse(data, "auto", SP)
    except PayloadError:
        pass


@given(total=st.floats(0, 1e6, allow_nan=False), power=st.floats(-1e5, 1e5, allow_nan=False))
def test_tasmota_counter_round_trips_to_the_wh(total: float, power: float):
    payload = json.dumps({"Time": "2026-11-30T08:27:00", "ENERGY": {"Total": total, "Power": power}}).encode()
    reading = parse(payload, "auto", SP)
    assert reading.energia_wh == round(total * 1000, 3) and reading.potencia_w == power


# -- which messages become readings (medidor.mqtt_source.Sequencer, no broker needed) ------------

def _sequencer(last: tuple[int, float] | None = None):
    from medidor.mqtt_source import Sequencer
    from medidor.resume import LastReading

    return Sequencer("tomada", None if last is None else LastReading(9, *last))


def test_a_device_time_at_or_before_the_newest_spooled_reading_is_a_repeat():
    seq = _sequencer(last=(1_000_000, 50.0))  # as after a restart: the spool's newest reading
    assert seq.reading(DeviceReading(50.0, 1, (), 1_000_000), 2_000_000, dup=True) is None
    assert seq.reading(DeviceReading(49.0, 1, (), 999_000), 2_000_000, dup=False) is None
    taken = seq.reading(DeviceReading(51.0, 2, (), 1_010_000), 2_000_000, dup=False)
    assert (taken.ts_ms, taken.energia_wh, taken.potencia_w) == (1_010_000, 51.0, 2)
    assert seq.repeats == 2


def test_without_a_device_time_a_redelivery_of_the_same_counter_is_a_repeat():
    seq = _sequencer(last=(1_000_000, 50.0))
    assert seq.reading(DeviceReading(50.0, 1), 2_000_000, dup=True) is None
    # Not marked as redelivered: a plug at rest publishing the same counter again is a reading.
    assert seq.reading(DeviceReading(50.0, 0), 2_000_000, dup=False).ts_ms == 2_000_000
    assert seq.reading(DeviceReading(50.5, 0), 2_000_000, dup=True).ts_ms == 2_000_001  # instants go forward


def test_a_device_clock_far_ahead_is_replaced_by_the_arrival_time():
    seq = _sequencer()
    taken = seq.reading(DeviceReading(1.0, 1, (), 10_000_000 + 11 * 60_000), 10_000_000, dup=False)
    assert taken.ts_ms == 10_000_000
