"""Builders shared by the billing tests: consumption profiles through the real interval path."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from servidor.billing.charges import Cip, Tributos
from servidor.billing.cycles import cycle_named
from servidor.billing.plans import PlanoTarifario, VersaoTarifa
from servidor.billing.prices import Faixa, Faixas, Janela, Postos, Preco, PrecoUnico
from servidor.billing.tariff_flags import TabelaBandeiras, ValoresBandeiras
from servidor.billing.usage import profile_from_intervals

TZ = ZoneInfo("America/Sao_Paulo")  # no daylight saving since 2019: every day has 24 hours
QUARTER_MS = 900_000
HOUR_MS = 3_600_000
VALUES_2025 = ValoresBandeiras(date(2025, 1, 1), (("verde", D(0)), ("amarela", D("1.885")),
                                                  ("vermelha_1", D("4.463")), ("vermelha_2", D("7.877"))))
ALL_GREEN = TabelaBandeiras((VALUES_2025,))  # no month listed: every month verde, with a note
BRANCA_WINDOWS = (Janela("intermediario", "17:00", "18:00"), Janela("ponta", "18:00", "21:00"),
                  Janela("intermediario", "21:00", "22:00"))


def flags(**months: str) -> TabelaBandeiras:
    """A 2025 table with the months given as flags(**{"2025_10": "vermelha_1"})."""
    return TabelaBandeiras((VALUES_2025,), tuple((key.replace("_", "-"), flag) for key, flag in months.items()))


def profile(ciclo, kwh_by_hour, tz=TZ):
    """Every local day of the cycle with the same kWh in each hour, spread over its four quarters."""
    start, end = ciclo.bounds_ms(tz)
    intervals = []
    for ts in range(start, end, QUARTER_MS):
        hour = (ts - start) // HOUR_MS % 24
        intervals.append((ts, ts + QUARTER_MS, kwh_by_hour[hour] / 4))
    return profile_from_intervals(tz, intervals)


def flat_plan(plan_id="convencional", price="0.80", vigencia=date(2020, 1, 1), **version):
    return PlanoTarifario(plan_id, plan_id.title(), (VersaoTarifa(vigencia, PrecoUnico(Preco(D(price))), **version),))


def branca_plan(ponta="1.60", intermediario="1.05", fora_ponta="0.65", plan_id="branca",
                vigencia=date(2020, 1, 1), **version):
    energy = Postos(Preco(D(fora_ponta)), BRANCA_WINDOWS, ponta=Preco(D(ponta)), intermediario=Preco(D(intermediario)))
    return PlanoTarifario(plan_id, "Tarifa Branca", (VersaoTarifa(vigencia, energy, **version),))


# --- hypothesis strategies ------------------------------------------------------------------------

prices = st.decimals(D("0.05"), D("3"), places=5)
rates = st.decimals(0, 25, places=2)
cycles = st.builds(lambda year, month, day: cycle_named(year, month, day),
                   st.integers(2021, 2030), st.integers(1, 12), st.one_of(st.none(), st.integers(1, 28)))
hour_profiles = st.lists(st.decimals(0, 5, places=3), min_size=24, max_size=24)


@st.composite
def energies(draw):
    kind = draw(st.sampled_from(["flat", "split", "tiers", "posts"]))
    if kind == "flat":
        return PrecoUnico(Preco(draw(prices)))
    if kind == "split":
        return PrecoUnico(Preco(tusd=draw(prices), te=draw(prices)))
    if kind == "tiers":
        first = draw(st.integers(10, 300))
        return Faixas((Faixa(D(first), Preco(draw(prices))), Faixa(D(first + draw(st.integers(1, 500))), Preco(draw(prices))),
                       Faixa(None, Preco(draw(prices)))))
    return Postos(Preco(draw(prices)), BRANCA_WINDOWS, ponta=Preco(draw(prices)), intermediario=Preco(draw(prices)))


@st.composite
def versions(draw, vigencia=date(2020, 1, 1)):
    return VersaoTarifa(
        vigencia, draw(energies()), taxa_fixa_mensal=draw(st.decimals(0, 50, places=2)),
        tributos=Tributos(draw(rates), draw(st.decimals(0, 2, places=2)), draw(st.decimals(0, 8, places=2)),
                          draw(st.sampled_from(["sequencial", "conjunto"]))),
        cip=draw(st.one_of(st.none(), st.builds(lambda v: Cip(valor_fixo=v), st.decimals(0, 60, places=2)))))
