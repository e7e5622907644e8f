"""Which tariff is cheaper: totals per cycle, the hours that make the difference, and honesty
about short histories."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from servidor.billing.charges import Tributos
from servidor.billing.comparison import compare_tariffs
from servidor.billing.cycles import cycle_named, previous_cycles
from servidor.billing.errors import BillingError
from servidor.billing.usage import PerfilConsumo, profile_from_intervals
from tests.billing_support import ALL_GREEN, HOUR_MS, TZ, branca_plan, flat_plan

TAXES = Tributos(icms_pct=D(18), pis_pct=D("1.1"), cofins_pct=D("5.1"))
CONV = flat_plan(price="0.80", tributos=TAXES)
BRANCA = branca_plan(ponta="1.60", intermediario="1.05", fora_ponta="0.65", tributos=TAXES)
EVENING = [D("0.2")] * 17 + [D(1), D(3), D(3), D(3), D(1), D("0.3"), D("0.3")]
DAYTIME = [D("0.2")] * 8 + [D("1.5")] * 8 + [D("0.2")] * 8


def hourly(cycles, by_hour):
    start, end = cycles[0].bounds_ms(TZ)[0], cycles[-1].bounds_ms(TZ)[1]
    return profile_from_intervals(TZ, [(ts, ts + HOUR_MS, by_hour[(ts - start) // HOUR_MS % 24])
                                       for ts in range(start, end, HOUR_MS)])


def test_evening_habits_make_convencional_cheaper_and_the_ponta_hours_say_why():
    cycles = previous_cycles(cycle_named(2026, 10, 5), 12)
    result = compare_tariffs([CONV, BRANCA], cycles, hourly(cycles, EVENING), ALL_GREEN)
    assert result.conclusiva and result.mais_barata == "convencional"
    assert result.ciclos_completos == 12 and result.avisos == ()
    assert result.totais[1] > result.totais[0]
    assert result.diferencas == (0, result.totais[1] - result.totais[0])
    assert [row.totais for row in result.ciclos][0] == (result.ciclos[0].totais[0], result.ciclos[0].totais[1])
    by_hour = {hour.hora: hour for hour in result.horas}
    for hour in (18, 19, 20):
        assert by_hour[hour].postos == (None, "ponta")
        assert by_hour[hour].diferencas[1] > 0       # ponta costs Branca more
    assert by_hour[3].postos == (None, "fora_ponta") and by_hour[3].diferencas[1] < 0
    # The hours explain the difference up to what they cannot: CIP, minimum, rounding.
    assert abs(result.diferencas_outros[1]) <= D("0.50")
    assert sum(h.diferencas[1] for h in result.horas) + result.diferencas_outros[1] == result.diferencas[1]
    assert result.conclusao.startswith("Convencional compensa: R$ ")
    assert result.conclusao.endswith(" a menos que Tarifa Branca em 12 ciclo(s)")


def test_daytime_habits_make_branca_cheaper():
    cycles = previous_cycles(cycle_named(2026, 10), 3)
    result = compare_tariffs([CONV, BRANCA], cycles, hourly(cycles, DAYTIME), ALL_GREEN)
    assert result.mais_barata == "branca" and result.diferencas[1] < 0
    assert result.conclusao.startswith("Tarifa Branca compensa: R$ ")
    assert result.conclusao.endswith("a menos que Convencional em 3 ciclo(s)")
    assert any("estações" in note for note in result.avisos)  # fewer than twelve cycles


def test_no_history_is_too_short_to_tell():
    cycles = previous_cycles(cycle_named(2026, 10), 12)
    result = compare_tariffs([CONV, BRANCA], cycles, PerfilConsumo({}), ALL_GREEN)
    assert not result.conclusiva and result.mais_barata is None
    assert result.conclusao.startswith("histórico curto demais para comparar")
    assert result.ciclos_completos == 0 and all(not row.completo for row in result.ciclos)


def test_incomplete_cycles_are_listed_but_left_out():
    cycles = previous_cycles(cycle_named(2026, 10), 4)
    data = hourly(cycles[2:], EVENING)  # the last two cycles only
    result = compare_tariffs([CONV, BRANCA], cycles, data, ALL_GREEN)
    assert [row.completo for row in result.ciclos] == [False, False, True, True]
    assert result.totais[0] == sum(row.totais[0] for row in result.ciclos[2:])
    assert result.avisos[0] == "2 de 4 ciclos têm menos de 95 % de leituras e ficaram fora da comparação"


def test_nearly_equal_tariffs_are_a_tie():
    cycles = previous_cycles(cycle_named(2026, 10), 2)
    result = compare_tariffs([CONV, flat_plan("outra", price="0.801", tributos=TAXES)], cycles,
                             hourly(cycles, EVENING), ALL_GREEN)
    assert result.conclusiva and result.mais_barata is None
    assert result.conclusao.startswith("empate:")


def test_comparison_json_names_every_tariff():
    cycles = previous_cycles(cycle_named(2026, 10), 1)
    body = compare_tariffs([CONV, BRANCA], cycles, hourly(cycles, EVENING), ALL_GREEN).to_json()
    assert body["referencia"] == "convencional"
    assert set(body["totais"]) == {"convencional", "branca"}
    assert len(body["horas"]) == 24 and body["horas"][19]["postos"]["branca"] == "ponta"


def test_comparison_needs_two_distinct_tariffs_and_some_cycles():
    cycles = [cycle_named(2026, 10)]
    with pytest.raises(BillingError, match="compare de 2 a 8 tarifas"):
        compare_tariffs([CONV], cycles, PerfilConsumo({}), ALL_GREEN)
    with pytest.raises(BillingError, match="tarifas repetidas"):
        compare_tariffs([CONV, CONV], cycles, PerfilConsumo({}), ALL_GREEN)
    with pytest.raises(BillingError, match="compare de 1 a 120 ciclos"):
        compare_tariffs([CONV, BRANCA], [], PerfilConsumo({}), ALL_GREEN)
    with pytest.raises(BillingError, match="não tem versão em vigor"):
        compare_tariffs([CONV, branca_plan(vigencia=date(2030, 1, 1))], cycles, PerfilConsumo({}), ALL_GREEN)
