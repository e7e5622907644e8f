"""Cycle invoices: the minimum, missing data and flags, and the properties every bill keeps."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

import holidays
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from servidor.billing.bill import compute_invoice, invoice_for
from servidor.billing.charges import Tributos
from servidor.billing.cycles import cycle_named
from servidor.billing.errors import BillingError
from servidor.billing.holiday_calendar import HolidayCalendar
from servidor.billing.plans import PlanoTarifario, VersaoTarifa
from servidor.billing.prices import Faixas
from servidor.billing.usage import cycle_usage
from tests.billing_support import (ALL_GREEN, branca_plan, cycles, flags, flat_plan, hour_profiles, prices, profile,
                                   rates, versions)

CENT = D("0.01")
EVENING = [D("0.1")] * 18 + [D(1)] * 3 + [D("0.1")] * 3  # kWh per hour: 3 kWh between 18 and 21 h


def test_below_the_minimum_the_missing_kwh_are_billed_at_the_base_price():
    ciclo = cycle_named(2025, 10)  # 31 days
    tiny = profile(ciclo, [D("0.025")] * 24)  # 0,6 kWh a day: 18,6 kWh
    invoice = invoice_for(flat_plan(price="0.80"), ciclo, tiny, flags(**{"2025_10": "amarela"}), "monofasica")
    assert [(line.grupo, line.quantidade, line.valor) for line in invoice.linhas] == [
        ("energia", D("18.600"), D("14.88")),          # 18,6 × 0,80
        ("disponibilidade", D("11.400"), D("9.12")),   # (30 − 18,6) × 0,80
        ("bandeira", D("30.000"), D("0.57")),          # the billed 30 kWh × 0,01885 = 0,5655
    ]
    assert invoice.kwh_faturado == 30
    assert "mínimo de 30 kWh" in invoice.linhas[1].descricao
    branca = invoice_for(branca_plan(fora_ponta="0.61"), ciclo, tiny, ALL_GREEN, "trifasica")
    minimum = branca.lines_of("disponibilidade")
    assert [(line.quantidade, line.preco) for line in minimum] == [(D("81.400"), D("0.61"))]  # fora de ponta price


def test_a_month_missing_from_the_flag_table_is_billed_green_with_a_note():
    ciclo = cycle_named(2026, 3, dia_leitura=15)
    invoice = invoice_for(flat_plan(), ciclo, profile(ciclo, EVENING), flags(**{"2025_10": "amarela"}))
    assert invoice.lines_of("bandeira") == ()
    assert invoice.avisos == ("bandeira de fevereiro/2026 não cadastrada: considerada verde",
                              "bandeira de março/2026 não cadastrada: considerada verde")
    assert invoice.bandeiras == (("2026-02", None), ("2026-03", None))


def test_a_cycle_with_missing_readings_says_it_is_an_estimate():
    ciclo = cycle_named(2026, 3)
    half = profile(cycle_named(2026, 3, dia_leitura=16), EVENING)  # data from 16/02 to 15/03 only
    invoice = invoice_for(flat_plan(), ciclo, half, ALL_GREEN)
    assert invoice.dias_com_dados == 15
    assert invoice.avisos[-1] == "leituras cobrem 48,4 % do ciclo (15 de 31 dias com dados): valores estimados a menor"


def test_usage_grouped_with_another_holiday_calendar_is_refused():
    ciclo = cycle_named(2026, 7)
    usage = cycle_usage(profile(ciclo, EVENING), ciclo, HolidayCalendar())
    local = branca_plan()
    local = type(local)(local.id, local.nome, local.versoes, frozenset({date(2026, 7, 9)}))
    with pytest.raises(BillingError, match="outro calendário de feriados"):
        compute_invoice(local, usage, ALL_GREEN)
    national = compute_invoice(branca_plan(), usage, ALL_GREEN)
    own = compute_invoice(local, cycle_usage(profile(ciclo, EVENING), ciclo, local.calendar), ALL_GREEN)
    ponta = [invoice.lines_of("energia")[0] for invoice in (national, own)]
    assert [line.posto for line in ponta] == ["ponta", "ponta"]
    # 09/07/2026 is a Thursday: the distributor's holiday takes its 3 kWh of 18–21 h out of ponta
    assert ponta[0].quantidade - ponta[1].quantidade == 3


def test_invoice_json_carries_every_line_and_the_formatted_total():
    ciclo = cycle_named(2026, 3)
    body = invoice_for(branca_plan(), ciclo, profile(ciclo, EVENING), ALL_GREEN).to_json()
    assert body["ciclo"]["nome"] == "2026-03" and body["modalidade"] == "branca"
    assert round(sum(line["valor"] for line in body["linhas"]), 2) == body["total"]
    assert body["total_formatado"].startswith("R$ ")
    assert {line["posto"] for line in body["linhas"]} == {"ponta", "intermediario", "fora_ponta"}


# --- properties ---------------------------------------------------------------------------------

# 2025 with every flag in turn (cycles outside 2025 meet months without a flag: billed verde)
MIXED_2025 = flags(**{f"2025_{month:02d}": flag
                      for month, flag in zip(range(1, 13), ["amarela", "vermelha_1", "vermelha_2", "verde"] * 3)})
flag_tables = st.sampled_from([ALL_GREEN, MIXED_2025])
connections = st.sampled_from([None, "monofasica", "bifasica", "trifasica"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(versions(), cycles, hour_profiles, flag_tables, connections)
def test_total_is_always_the_sum_of_the_rounded_lines(version, ciclo, by_hour, table, connection):
    invoice = invoice_for(PlanoTarifario("t", "T", (version,)), ciclo, profile(ciclo, by_hour), table, connection)
    assert invoice.total == sum(line.valor for line in invoice.linhas)
    assert all(line.valor == line.valor.quantize(CENT) for line in invoice.linhas)
    energy_kwh = {}
    for line in invoice.lines_of("energia"):
        energy_kwh[(line.posto, line.descricao.replace(" TUSD", "").replace(" TE", ""))] = line.quantidade
    assert sum(energy_kwh.values()) == invoice.kwh_medido  # every measured kWh priced once


def independent_working_days(ciclo):
    """Weekdays that are neither national holidays nor Carnival Tuesday / Corpus Christi, computed
    with the holidays package and dateutil's Easter, apart from the engine's own calendar."""
    from dateutil.easter import easter
    years = {ciclo.primeiro_dia.year, ciclo.ultimo_dia.year}
    national = holidays.country_holidays("BR", years=years)
    extra = {easter(y) + timedelta(days=d) for y in years for d in (-47, 60)}
    return sum(1 for day in ciclo.days() if day.weekday() < 5 and day not in national and day not in extra)


@settings(max_examples=80, deadline=None)
@given(cycles, st.decimals(D("0.05"), 4, places=3), prices, prices, prices, prices, rates)
def test_a_flat_profile_makes_branca_and_convencional_differ_the_way_the_prices_say(
        ciclo, kwh_per_hour, conventional, ponta, intermediario, fora_ponta, icms):
    taxes = Tributos(icms_pct=icms, pis_pct=D("1.1"), cofins_pct=D("5.1"))
    flat = profile(ciclo, [kwh_per_hour] * 24)
    conv = invoice_for(flat_plan(price=str(conventional), tributos=taxes), ciclo, flat, ALL_GREEN)
    branca = invoice_for(branca_plan(str(ponta), str(intermediario), str(fora_ponta), tributos=taxes),
                         ciclo, flat, ALL_GREEN)
    working = independent_working_days(ciclo)
    # per working day: 3 h ponta, 2 h intermediário, 19 h fora de ponta; other days: 24 h fora de ponta
    branca_energy = kwh_per_hour * (working * (3 * ponta + 2 * intermediario + 19 * fora_ponta)
                                    + (ciclo.dias - working) * 24 * fora_ponta)
    conv_energy = kwh_per_hour * 24 * ciclo.dias * conventional
    expected = branca_energy - conv_energy
    # Rounding: six energy lines and three tax lines can move the totals by a few centavos.
    assume(abs(expected) > D("0.20"))
    event("Branca mais cara" if expected > 0 else "Branca mais barata")
    assert (branca.total > conv.total) == (expected > 0)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(versions(), cycles, hour_profiles, connections, st.data())
def test_splitting_a_cycle_pro_rata_moves_no_centavo_beyond_the_lines_rounding(version, ciclo, by_hour, connection,
                                                                                 data):
    change = ciclo.primeiro_dia + timedelta(days=data.draw(st.integers(1, ciclo.dias - 1)))
    whole = PlanoTarifario("t", "T", (version,))
    twin = VersaoTarifa(change, version.energia, version.taxa_fixa_mensal, version.tributos, version.cip)
    split = whole.with_version(twin)
    usage = cycle_usage(profile(ciclo, by_hour), ciclo, HolidayCalendar())
    one = compute_invoice(whole, usage, ALL_GREEN, connection)
    two = compute_invoice(split, usage, ALL_GREEN, connection)
    priced = [line for line in one.linhas if line.grupo in ("energia", "disponibilidade", "taxa_fixa")]
    for group in ("energia", "disponibilidade"):  # kWh are shared exactly, none created or lost
        assert sum(line.quantidade for line in one.lines_of(group) if "TE" not in line.descricao.split()) == \
            sum(line.quantidade for line in two.lines_of(group) if "TE" not in line.descricao.split())
    # Stated rounding: each priced line of the whole cycle becomes two rounded lines, which can
    # differ from it by one centavo (tier bounds scaled to 0,001 kWh add at most one per tier).
    tiers = len(version.energia.faixas) if isinstance(version.energia, Faixas) else 0
    allowed = CENT * (len(priced) + tiers)
    delta_subtotal = abs(two.subtotal - one.subtotal)
    assert delta_subtotal <= allowed
    assert one.sum_of("bandeira") == two.sum_of("bandeira") and one.sum_of("cip") == two.sum_of("cip")
    # Taxes follow the subtotal: each tax moves by its rate times the base's move, plus its own rounding.
    t = version.tributos
    rate = (t.icms_pct + t.pis_pct + t.cofins_pct) / 100
    factor = (1 - rate) if t.calculo == "conjunto" else (1 - (t.pis_pct + t.cofins_pct) / 100) * (1 - t.icms_pct / 100)
    base_move = delta_subtotal / factor + 2 * CENT
    assert abs(two.sum_of("tributo") - one.sum_of("tributo")) <= rate * base_move + 3 * CENT
    assert abs(two.total - one.total) <= delta_subtotal + rate * base_move + 3 * CENT


@settings(max_examples=40, deadline=None)
@given(cycles, hour_profiles, st.integers(18, 20), st.integers(0, 16), st.decimals(D("0.01"), 3, places=2))
def test_moving_consumption_out_of_ponta_never_raises_a_branca_bill(ciclo, by_hour, from_hour, to_hour, amount):
    plan = branca_plan(tributos=Tributos(icms_pct=D(18), pis_pct=D(1), cofins_pct=D(5)))
    assume(by_hour[from_hour] >= amount)
    moved = list(by_hour)
    moved[from_hour] -= amount
    moved[to_hour] += amount
    before = invoice_for(plan, ciclo, profile(ciclo, by_hour), ALL_GREEN)
    after = invoice_for(plan, ciclo, profile(ciclo, moved), ALL_GREEN)
    assert after.kwh_medido == before.kwh_medido
    assert after.total <= before.total
