"""Tariff versions and components refuse what a bill could not be computed from, in Portuguese."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from servidor.billing.charges import Cip, FaixaCip, Tributos
from servidor.billing.cycles import cycle_named
from servidor.billing.errors import BillingError, InvalidTariff, NoTariffInForce
from servidor.billing.plans import PlanoTarifario, VersaoTarifa
from servidor.billing.prices import Faixa, Faixas, Janela, Postos, Preco, PrecoUnico
from tests.billing_support import BRANCA_WINDOWS, flat_plan


def version(day, price="0.80", **kwargs):
    return VersaoTarifa(day, PrecoUnico(Preco(D(price))), **kwargs)


def test_overlapping_posts_are_refused_naming_both_windows_and_the_day():
    with pytest.raises(InvalidTariff) as caught:
        Postos(Preco(D("0.6")), (Janela("ponta", "18:00", "21:00"), Janela("intermediario", "20:30", "22:00")),
               ponta=Preco(D("1.5")), intermediario=Preco(D("1.0")))
    assert str(caught.value) == ("postos sobrepostos: ponta (18:00–21:00) e intermediário (20:30–22:00) "
                                 "às 20:30 de segunda-feira")
    assert caught.value.campo == "janelas[1]"


def test_windows_on_different_days_do_not_overlap():
    weekdays = Janela("ponta", "18:00", "21:00")
    saturday = Janela("intermediario", "18:00", "21:00", dias=(5,))
    posts = Postos(Preco(D("0.6")), (weekdays, saturday), ponta=Preco(D("1.5")), intermediario=Preco(D("1.0")))
    assert posts.slot_posts[0][18 * 4] == "ponta"
    assert posts.slot_posts[5][18 * 4] == "intermediario"
    assert posts.slot_posts[6][18 * 4] == "fora_ponta"
    assert set(posts.slot_posts[7]) == {"fora_ponta"}  # holidays


@pytest.mark.parametrize("window, message", [
    (("ponta", "18:10", "21:00"), "quarto de hora"),
    (("ponta", "21:00", "18:00"), "dividida em duas"),
    (("ponta", "25:00", "26:00"), "fora do dia"),
    (("ponta", "18h", "21:00"), "HH:MM"),
    (("fora_ponta", "08:00", "09:00"), "o resto do dia é fora de ponta"),
])
def test_bad_windows_are_refused(window, message):
    with pytest.raises(InvalidTariff, match=message):
        Janela(*window)


def test_a_window_for_a_post_without_price_is_refused():
    with pytest.raises(InvalidTariff, match="intermediário, que não tem preço"):
        Postos(Preco(D("0.6")), BRANCA_WINDOWS, ponta=Preco(D("1.5")))


def test_a_version_dated_before_the_previous_one_is_refused():
    with pytest.raises(InvalidTariff) as caught:
        PlanoTarifario("t", "T", (version(date(2026, 3, 1)), version(date(2026, 1, 1))))
    assert str(caught.value) == ("a versão 2 (vigência 01/01/2026) não é posterior à versão 1 (vigência "
                                 "01/03/2026); as versões vão em ordem de vigência")
    assert caught.value.campo == "versoes[1].vigencia"
    plan = PlanoTarifario("t", "T", (version(date(2026, 3, 1)),))
    with pytest.raises(InvalidTariff, match="não é posterior"):
        plan.with_version(version(date(2026, 3, 1)))  # the same day is not later either
    assert plan.with_version(version(date(2026, 7, 1), "0.9")).versoes[-1].vigencia == date(2026, 7, 1)


@pytest.mark.parametrize("rates", [dict(icms_pct=100), dict(pis_pct="100.5"), dict(cofins_pct=D(150))])
def test_a_rate_of_100_percent_or_more_is_refused(rates):
    with pytest.raises(InvalidTariff, match="deve ser menor que 100 %"):
        Tributos(**rates)


def test_taxes_that_together_leave_no_price_are_refused():
    with pytest.raises(InvalidTariff, match="PIS \\+ COFINS deve somar menos que 100 %"):
        Tributos(pis_pct=60, cofins_pct=40)
    with pytest.raises(InvalidTariff, match="ICMS \\+ PIS \\+ COFINS deve somar menos que 100 %"):
        Tributos(icms_pct=50, pis_pct=30, cofins_pct=20, calculo="conjunto")
    Tributos(icms_pct=50, pis_pct=30, cofins_pct=20)  # sequential: (1 − 0,5) × (1 − 0,5) leaves a price


@pytest.mark.parametrize("bounds, message", [
    ((D(100), D(100), None), "a faixa 2 vai até 100 kWh, que não é maior que 100 kWh da faixa anterior"),
    ((D(200), D(100), None), "a faixa 2 vai até 100 kWh, que não é maior que 200 kWh"),
    ((D(100), None, None), "só a última faixa pode ficar sem limite"),
    ((D(100), D(200)), "a última faixa não pode ter limite"),
])
def test_tiers_that_do_not_increase_are_refused(bounds, message):
    with pytest.raises(InvalidTariff, match=message):
        Faixas(tuple(Faixa(bound, Preco(D("0.5"))) for bound in bounds))


@pytest.mark.parametrize("kwargs, message", [
    (dict(kwh=D("0.5"), te=D("0.2")), "OU as duas parcelas"),
    (dict(te=D("0.2")), "OU as duas parcelas"),
    (dict(), "OU as duas parcelas"),
    (dict(kwh=D("-0.5")), "não pode ser negativo"),
    (dict(kwh=D("150")), "acima do máximo"),
    (dict(kwh="abc"), "não é um número"),
    (dict(kwh=D("0.123456789")), "casas decimais"),
])
def test_bad_prices_are_refused(kwargs, message):
    with pytest.raises(InvalidTariff, match=message):
        Preco(**kwargs)


def test_cip_needs_one_form_and_increasing_bands():
    with pytest.raises(InvalidTariff, match="valor_fixo OU faixas"):
        Cip()
    with pytest.raises(InvalidTariff, match="crescentes"):
        Cip(faixas=(FaixaCip(D(100), D(5)), FaixaCip(D(50), D(9)), FaixaCip(None, D(12))))
    bands = Cip(faixas=(FaixaCip(D(100), D(5)), FaixaCip(D(300), D(9)), FaixaCip(None, D(12))))
    assert bands.charge(D(100)) == (D("5.00"), "faixa de 0 a 100 kWh")
    assert bands.charge(D("100.001")) == (D("9.00"), "faixa de 100 a 300 kWh")
    assert bands.charge(D(5000)) == (D("12.00"), "faixa acima de 300 kWh")


def test_a_cycle_before_the_first_version_has_no_tariff():
    plan = flat_plan(vigencia=date(2026, 3, 1))
    with pytest.raises(NoTariffInForce, match="não tem versão em vigor em 01/02/2026"):
        plan.segments(cycle_named(2026, 2))


def test_segments_cover_the_cycle_day_by_day():
    plan = PlanoTarifario("t", "T", (version(date(2026, 1, 1)), version(date(2026, 2, 10), "0.9"),
                                     version(date(2026, 2, 20), "1.0"), version(date(2026, 5, 1), "1.1")))
    segments = plan.segments(cycle_named(2026, 2))
    assert [(s.primeiro_dia, s.ultimo_dia, s.dias) for s in segments] == [
        (date(2026, 2, 1), date(2026, 2, 9), 9), (date(2026, 2, 10), date(2026, 2, 19), 10),
        (date(2026, 2, 20), date(2026, 2, 28), 9)]


def test_every_billing_error_is_a_value_error_with_a_field():
    with pytest.raises(ValueError) as caught:
        PlanoTarifario("Tarifa X", "x", (version(date(2026, 1, 1)),))
    assert isinstance(caught.value, BillingError) and caught.value.campo == "id"
    assert caught.value.within("tarifas[0]").campo == "tarifas[0].id"
