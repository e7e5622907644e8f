"""Tariffs (validation, JSON) and invoices (lines, tiers, taxes, rounding)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.money import to_cents
from servidor.billing.tariffs import (
    DEFAULT_TARIFF,
    Faixa,
    Tarifa,
    compute_invoice,
    project_month_kwh,
)

D = Decimal
TIERED = Tarifa(
    id="residencial-tiers",
    nome="Residencial por faixas",
    faixas=(Faixa(D(100), D("0.50")), Faixa(D(200), D("0.70")), Faixa(None, D("0.90"))),
)


# --- tariff validation and JSON -----------------------------------------------------------------

def test_default_tariff_is_004s_half_real_per_kwh():
    invoice = compute_invoice(DEFAULT_TARIFF, "medidor-1", "2026-11", 25)
    assert invoice.total == D("12.50")
    assert [item.descricao for item in invoice.itens] == ["Energia"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"id": "Com Espaço"}, "id da tarifa"),
    ({"id": ""}, "id da tarifa"),
    ({"nome": "  "}, "nome"),
    ({"preco_kwh": D("-0.1")}, "negativo"),
    ({"preco_kwh": D("500")}, "máximo"),
    ({"preco_kwh": D("0.123456789")}, "casas decimais"),
    ({"taxa_fixa_mensal": -1}, "negativo"),
    ({"impostos_pct": D(100)}, "menor que 100"),
    ({"impostos_pct": D(-1)}, "negativo"),
    ({"moeda": "USD"}, "moeda"),
    ({"faixas": (Faixa(D(100), D(1)),)}, "última faixa"),
    ({"faixas": (Faixa(None, D(1)), Faixa(None, D(2)))}, "só a última"),
    ({"faixas": (Faixa(D(200), D(1)), Faixa(D(100), D(1)), Faixa(None, D(1)))}, "crescentes"),
    ({"faixas": (Faixa(D(100), D(1)), Faixa(D(100), D(1)), Faixa(None, D(1)))}, "crescentes"),
])
def test_invalid_tariffs_are_refused_with_portuguese_messages(kwargs, message):
    fields = {"id": "t", "nome": "T"} | kwargs
    with pytest.raises(ValueError, match=message):
        Tarifa(**fields)


def test_tier_bound_must_be_positive():
    with pytest.raises(ValueError, match="maior que zero"):
        Faixa(D(0), D(1))


def test_from_json_accepts_ints_floats_and_numeric_strings():
    tariff = Tarifa.from_json({"nome": "Escola", "preco_kwh": "0.65", "taxa_fixa_mensal": 30,
                               "impostos_pct": 27.5, "faixas": []}, id="escola")
    assert (tariff.id, tariff.preco_kwh, tariff.taxa_fixa_mensal, tariff.impostos_pct) == (
        "escola", D("0.65"), D(30), D("27.5"))


@pytest.mark.parametrize(("obj", "message"), [
    ([], "objeto JSON"),
    ({"nome": "x", "preco_kWh": 1}, "campos desconhecidos"),
    ({"nome": "x", "preco_kwh": "barato"}, "não é um número"),
    ({"nome": "x", "preco_kwh": True}, "número"),
    ({"preco_kwh": 1}, "nome"),
    ({"nome": "x", "faixas": {"ate_kwh": 1}}, "lista"),
    ({"nome": "x", "faixas": [{"ate_kwh": None}]}, "preco_kwh"),
    ({"nome": "x", "faixas": [{"ate_kwh": None, "preco_kwh": 1, "cor": "azul"}]}, "desconhecidos"),
])
def test_from_json_refuses_malformed_objects(obj, message):
    with pytest.raises(ValueError, match=message):
        Tarifa.from_json(obj, id="t")


def test_from_json_refuses_a_body_id_that_contradicts_the_url():
    with pytest.raises(ValueError, match="difere"):
        Tarifa.from_json({"id": "a", "nome": "A"}, id="b")
    with pytest.raises(ValueError, match="obrigatório"):
        Tarifa.from_json({"nome": "A"})


def test_to_json_uses_json_numbers():
    assert TIERED.to_json()["faixas"] == [
        {"ate_kwh": 100.0, "preco_kwh": 0.5}, {"ate_kwh": 200.0, "preco_kwh": 0.7},
        {"ate_kwh": None, "preco_kwh": 0.9}]


prices = st.decimals(min_value=0, max_value=100, places=5)


@st.composite
def tariffs(draw):
    bounds = sorted(draw(st.sets(st.integers(1, 5000), max_size=4)))
    tiers = tuple(Faixa(D(b), draw(prices)) for b in bounds)
    if bounds:
        tiers += (Faixa(None, draw(prices)),)
    return Tarifa(
        id=draw(st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)),
        nome=draw(st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Zs", "Cc")),
                          min_size=1, max_size=30)),
        preco_kwh=draw(prices),
        taxa_fixa_mensal=draw(st.decimals(min_value=0, max_value=10_000, places=2)),
        impostos_pct=draw(st.decimals(min_value=0, max_value=D("60"), places=2)),
        faixas=tiers,
    )


@given(tariffs())
def test_tariff_json_round_trip_gives_an_equal_tariff(tariff):
    assert Tarifa.from_json(tariff.to_json()) == tariff


# --- invoices -----------------------------------------------------------------------------------

def test_tiered_invoice_has_one_line_per_tier_reached():
    invoice = compute_invoice(TIERED, "m", "2026-11", D("250"))
    assert [(i.descricao, i.quantidade, i.valor) for i in invoice.itens] == [
        ("Energia (faixa 1: até 100 kWh)", D(100), D("50.00")),
        ("Energia (faixa 2: de 100 a 200 kWh)", D(100), D("70.00")),
        ("Energia (faixa 3: acima de 200 kWh)", D(50), D("45.00")),
    ]
    assert invoice.total == D("165.00")


def test_consumption_inside_the_first_tier_bills_only_that_tier():
    invoice = compute_invoice(TIERED, "m", "2026-11", 80)
    assert [i.descricao for i in invoice.itens] == ["Energia (faixa 1: até 100 kWh)"]


def test_zero_consumption_still_shows_the_energy_line_at_zero():
    invoice = compute_invoice(TIERED, "m", "2026-11", 0)
    assert [(i.quantidade, i.valor) for i in invoice.itens] == [(D(0), D(0))]
    assert invoice.total == 0


def test_fixed_charge_and_taxes_make_lines_that_add_up_to_the_total():
    tariff = Tarifa(id="com-impostos", nome="Com impostos", preco_kwh=D("0.80"),
                    taxa_fixa_mensal=D("12.30"), impostos_pct=D(25))
    invoice = compute_invoice(tariff, "m", "2026-11", D("100"))
    assert [i.descricao for i in invoice.itens] == ["Energia", "Taxa fixa mensal", "Impostos (25%)"]
    assert invoice.subtotal == D("92.30")
    # ICMS/PIS/COFINS are "por dentro": 25 % of the total, so total = 92.30 / 0.75.
    assert invoice.total == D("123.07")
    assert invoice.impostos == D("30.77")
    assert invoice.to_json()["total_formatado"] == "R$ 123,07"


def test_taxes_label_shows_a_fractional_rate_with_a_comma():
    tariff = Tarifa(id="t", nome="T", impostos_pct=D("27.5"))
    assert compute_invoice(tariff, "m", "2026-11", 10).itens[-1].descricao == "Impostos (27,5%)"


def test_float_noise_in_kwh_is_rounded_to_whole_watt_hours():
    invoice = compute_invoice(DEFAULT_TARIFF, "m", "2026-11", 612.4000000001)
    assert invoice.kwh == D("612.400")


def test_invoice_json_has_money_as_numbers_and_flags():
    data = compute_invoice(DEFAULT_TARIFF, "m", "2026-11", 10, cobertura=0.5, parcial=True).to_json()
    assert data["total"] == 5.0 and data["cobertura"] == 0.5 and data["parcial"] is True
    assert data["itens"][0] == {"descricao": "Energia", "quantidade": 10.0, "unidade": "kWh",
                                "preco_unitario": 0.5, "valor": 5.0}


@pytest.mark.parametrize(("kwh", "mes", "message"), [(-1, "2026-11", "negativo"), (1, "2026-13", "mês")])
def test_invoice_refuses_negative_consumption_and_bad_months(kwh, mes, message):
    with pytest.raises(ValueError, match=message):
        compute_invoice(DEFAULT_TARIFF, "m", mes, kwh)


kwh_values = st.decimals(min_value=0, max_value=20_000, places=3)


@given(tariffs(), kwh_values)
def test_invoice_total_is_exactly_the_sum_of_its_lines(tariff, kwh):
    invoice = compute_invoice(tariff, "m", "2026-11", kwh)
    assert invoice.total == sum(item.valor for item in invoice.itens)
    assert invoice.total == invoice.subtotal + invoice.impostos
    assert all(item.valor == to_cents(item.valor) for item in invoice.itens)


@given(tariffs(), kwh_values, kwh_values)
def test_invoice_total_never_decreases_when_consumption_grows(tariff, a, b):
    low, high = sorted((a, b))
    smaller = compute_invoice(tariff, "m", "2026-11", low)
    assert smaller.total <= compute_invoice(tariff, "m", "2026-11", high).total


@given(tariffs(), kwh_values)
def test_tiered_energy_equals_the_piecewise_sum(tariff, kwh):
    expected = D(0)
    if tariff.faixas:
        lower = D(0)
        for tier in tariff.faixas:
            upper = kwh if tier.ate_kwh is None else min(kwh, tier.ate_kwh)
            expected += to_cents(max(upper - lower, D(0)) * tier.preco_kwh)
            lower = tier.ate_kwh if tier.ate_kwh is not None else lower
    else:
        expected = to_cents(kwh * tariff.preco_kwh)
    invoice = compute_invoice(tariff, "m", "2026-11", kwh)
    energy = sum(i.valor for i in invoice.itens if i.descricao.startswith("Energia"))
    assert energy == expected


# --- projection ---------------------------------------------------------------------------------

def test_projection_extrapolates_the_pace_to_the_month_end():
    assert project_month_kwh(100.0, 10, 30) == pytest.approx(300.0)


def test_projection_with_nothing_elapsed_or_a_finished_month_is_what_was_used():
    assert project_month_kwh(42.0, 0, 30) == 42.0
    assert project_month_kwh(42.0, 30, 30) == 42.0


def test_projection_refuses_an_empty_month():
    with pytest.raises(ValueError, match="mês"):
        project_month_kwh(1.0, 1, 0)
