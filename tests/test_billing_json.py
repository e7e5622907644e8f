"""Tariffs and the bandeira table read from and written to JSON, errors pointing at the field."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servidor.billing.errors import InvalidFlagTable, InvalidTariff
from servidor.billing.examples import EXAMPLE_TARIFFS
from servidor.billing.plans import PlanoTarifario
from servidor.billing.tariff_flags import EXAMPLE_FLAGS
from servidor.billing.tariff_json import flags_from_json, flags_to_json, plan_from_json, plan_to_json
from tests.billing_support import versions

BRANCA_JSON = {
    "id": "branca", "nome": "Tarifa Branca", "feriados_extras": ["2026-07-09"],
    "versoes": [{
        "vigencia": "2026-01-01",
        "energia": {"tipo": "postos", "fora_ponta": {"tusd": "0.2751", "te": 0.2839}, "ponta": 1.56,
                    "intermediario": {"kwh": 0.97},
                    "janelas": [{"posto": "ponta", "inicio": "18:00", "fim": "21:00"},
                                {"posto": "intermediario", "inicio": "17:00", "fim": "18:00"},
                                {"posto": "intermediario", "inicio": "21:00", "fim": "22:00"}]},
        "tributos": {"icms_pct": 18, "pis_pct": 1.1, "cofins_pct": 5.1},
        "cip": {"faixas": [{"ate_kwh": 100, "valor": 8.5}, {"ate_kwh": None, "valor": 20}]},
    }],
}


def test_a_branca_tariff_is_read_from_json():
    plan = plan_from_json(BRANCA_JSON)
    energy = plan.versoes[0].energia
    assert plan.modalidade == "branca"
    assert energy.fora_ponta.tusd == D("0.2751") and energy.ponta.kwh == D("1.56")
    assert energy.slot_posts[4][18 * 4] == "ponta" and energy.slot_posts[5][18 * 4] == "fora_ponta"
    assert plan.feriados_extras == {date(2026, 7, 9)}
    assert plan_from_json(json.loads(json.dumps(plan_to_json(plan)))) == plan


@pytest.mark.parametrize("change, campo, message", [
    (lambda b: b["versoes"][0]["energia"]["janelas"][1].update(fim="18:30"),
     "versoes[0].energia.janelas[1]", "postos sobrepostos"),
    (lambda b: b["versoes"][0]["tributos"].update(icms_pct=100), "versoes[0].tributos.icms_pct", "menor que 100 %"),
    (lambda b: b["versoes"].append(dict(b["versoes"][0], vigencia="2025-06-01")), "versoes[1].vigencia",
     "não é posterior"),
    (lambda b: b["versoes"][0].update(preco_kWh=1), "versoes[0].preco_kWh", "campos desconhecidos"),
    (lambda b: b["versoes"][0]["energia"].update(tipo="horaria"), "versoes[0].energia.tipo", "energia.tipo"),
    (lambda b: b["versoes"][0].update(vigencia="2026-02-30"), "versoes[0].vigencia", "AAAA-MM-DD"),
    (lambda b: b["versoes"][0]["cip"]["faixas"][0].update(valor=-1), "versoes[0].cip.faixas[0].valor",
     "não pode ser negativo"),
])
def test_json_errors_name_the_field(change, campo, message):
    body = json.loads(json.dumps(BRANCA_JSON))
    change(body)
    with pytest.raises(InvalidTariff, match=message) as caught:
        plan_from_json(body)
    assert caught.value.campo == campo


def test_the_url_id_wins_and_a_different_body_id_is_refused():
    assert plan_from_json(dict(BRANCA_JSON, id=None), id="minha").id == "minha"
    with pytest.raises(InvalidTariff, match="difere do id informado"):
        plan_from_json(BRANCA_JSON, id="outra")


@settings(max_examples=50, deadline=None)
@given(st.lists(versions(), min_size=1, max_size=3), st.booleans())
def test_any_tariff_survives_a_json_round_trip(drawn, aneel):
    dated = [type(v)(date(2020 + i, 1, 1), v.energia, v.taxa_fixa_mensal, v.tributos, v.cip, v.fonte)
             for i, v in enumerate(drawn)]
    plan = PlanoTarifario("t", "Tarifa", tuple(dated), frozenset({date(2026, 7, 9)}), aneel)
    assert plan_from_json(json.loads(json.dumps(plan_to_json(plan)))) == plan


def test_example_data_round_trips():
    for plan in EXAMPLE_TARIFFS:
        assert plan_from_json(json.loads(json.dumps(plan_to_json(plan)))) == plan
    assert flags_from_json(json.loads(json.dumps(flags_to_json(EXAMPLE_FLAGS)))) == EXAMPLE_FLAGS


@pytest.mark.parametrize("body, campo, message", [
    ({"valores": []}, "valores", "de 1 a 100 conjuntos"),
    ({"valores": [{"vigencia": "2025-01-01", "por_100kwh": {"roxa": 3}}]}, "valores[0].por_100kwh",
     "bandeira desconhecida"),
    ({"valores": [{"vigencia": "2025-01-01", "por_100kwh": {"verde": 1}}]}, "valores[0].por_100kwh.verde",
     "verde não tem acréscimo"),
    ({"valores": [{"vigencia": "2025-01-01", "por_100kwh": {"amarela": 1.885}}], "meses": {"2025-05": "vermelha_2"}},
     "meses.2025-05", "não há valor em vigor para a bandeira vermelha patamar 2"),
    ({"valores": [{"vigencia": "2025-01-01", "por_100kwh": {"amarela": 1.885}}], "meses": {"2024-12": "amarela"}},
     "meses.2024-12", "não há valor em vigor"),
    ({"valores": [{"vigencia": "2025-01-01", "por_100kwh": {}}], "meses": {"2025-13": "verde"}},
     "meses.2025-13", "mês inválido"),
])
def test_bad_flag_tables_are_refused(body, campo, message):
    with pytest.raises(InvalidFlagTable, match=message) as caught:
        flags_from_json(body)
    assert caught.value.campo == campo


def test_a_user_adds_next_months_flag():
    table = EXAMPLE_FLAGS.with_month("2026-12", "vermelha_1")
    assert table.flag_of(2026, 12) == ("vermelha_1", D("4.463"))
    assert EXAMPLE_FLAGS.flag_of(2026, 12) is None
