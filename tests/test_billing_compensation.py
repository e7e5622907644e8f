"""Net metering: compensation in the cycle, credits over months and their expiry, the minimum,
Fio B by year, against hand-computed numbers."""
from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings, strategies as st

from servidor.billing import cycle_named, invoice_for, plan_from_json, plan_to_json
from servidor.billing.compensation import Credito, FioB, compensate
from servidor.billing.errors import InvalidTariff
from tests.billing_support import ALL_GREEN, flat_plan, profile


def test_credits_carry_over_three_months():
    # Bifásica (50 kWh minimum). January: 200 consumed, 500 injected → 150 compensated, 350 credit.
    jan = compensate("2026-01", D(200), D(500), D(50), ())
    assert (jan.do_ciclo_kwh, jan.de_creditos_kwh, jan.gerado_kwh, jan.saldo_kwh) == (D(150), 0, D(350), D(350))
    # February: 300 consumed, nothing injected → 250 from January's credit, 100 left.
    feb = compensate("2026-02", D(300), D(0), D(50), jan.creditos)
    assert (feb.do_ciclo_kwh, feb.de_creditos_kwh, feb.saldo_anterior_kwh, feb.saldo_kwh) == (0, D(250), D(350), D(100))
    # March: 400 consumed, 100 injected → 100 in the cycle, then the last 100 of credit; 150 billed above 50.
    mar = compensate("2026-03", D(400), D(100), D(50), feb.creditos)
    assert (mar.do_ciclo_kwh, mar.de_creditos_kwh, mar.saldo_kwh) == (D(100), D(100), 0)
    assert mar.compensavel_kwh - mar.compensado_kwh == D(150)


def test_credits_are_used_oldest_first_and_expire_after_60_months():
    old, new = Credito("2021-01", D(80)), Credito("2025-06", D(50))
    assert old.ultimo_ciclo == "2026-01"
    still = compensate("2026-01", D(150), D(0), D(30), (new, old))
    assert still.de_creditos_kwh == D(120) and still.creditos == (Credito("2025-06", D(10)),)  # old first
    gone = compensate("2026-02", D(150), D(0), D(30), (old, new))
    assert gone.expirado_kwh == D(80) and gone.de_creditos_kwh == D(50) and gone.saldo_kwh == 0


def test_consumption_below_the_minimum_compensates_nothing_and_keeps_every_injected_kwh():
    done = compensate("2026-01", D(20), D(100), D(30), ())
    assert done.compensado_kwh == 0 and done.gerado_kwh == D(100)


def test_an_invoice_with_compensation_fio_b_and_the_minimum():
    fio_b = FioB(D("0.20"), ((2025, D(45)), (2026, D(60))))
    plan = flat_plan(price="0.80", fio_b=fio_b)
    ciclo = cycle_named(2026, 3)  # March 2026: 31 days
    usage = profile(ciclo, [D(10) / 24] * 24)  # 10 kWh a day: 310 kWh
    done = compensate(ciclo.nome, D(310), D(400), D(50), ())
    invoice = invoice_for(plan, ciclo, usage, ALL_GREEN, "bifasica", done)
    lines = {line.descricao: line.valor for line in invoice.linhas}
    # 310 kWh × 0.80 = 248.00; 260 kWh compensated (above the 50 minimum) × 0.80 = −208.00;
    # Fio B 260 × 60 % × 0.20 = 31.20. Total 71.20 (no taxes in this plan).
    assert invoice.sum_of("energia") == D("248.00")
    assert lines["Energia injetada compensada no ciclo (260,000 kWh)"] == D("-208.00")
    assert lines["TUSD Fio B sobre a energia compensada (60 % em 2026)"] == D("31.20")
    assert invoice.total == D("71.20")
    body = invoice.to_json()
    assert body["saldo_creditos_kwh"] == 140.0 and body["compensacao"]["creditos"][0]["valido_ate"] == "2031-03"


def test_fio_b_lives_in_the_tariffs_json_and_is_checked():
    plan = plan_from_json({"id": "solar", "nome": "Solar", "versoes": [{
        "vigencia": "2024-01-01", "energia": {"tipo": "unico", "preco": {"kwh": 0.8}},
        "fio_b": {"preco_kwh": 0.25, "pct_por_ano": {"2024": 30, "2025": 45}}}]})
    fio_b = plan.versoes[0].fio_b
    assert fio_b.pct(2023) == 0 and fio_b.pct(2024) == 30 and fio_b.pct(2030) == 45
    assert plan_to_json(plan)["versoes"][0]["fio_b"] == {"preco_kwh": 0.25, "pct_por_ano": {"2024": 30.0, "2025": 45.0}}
    assert "fio_b" not in plan_to_json(flat_plan())["versoes"][0]
    with pytest.raises(InvalidTariff):
        FioB.from_json({"preco_kwh": 0.25, "pct_por_ano": {"2024": 130}})


kwh = st.integers(min_value=0, max_value=2_000).map(D)


@settings(max_examples=200, deadline=None)
@given(months=st.lists(st.tuples(kwh, kwh), min_size=1, max_size=90), minimum=st.sampled_from([D(0), D(30), D(50),
                                                                                                 D(100)]))
def test_every_injected_kwh_is_compensated_kept_or_expired_and_never_below_the_minimum(months, minimum):
    credits: tuple = ()
    injected = compensated = expired = D(0)
    for index, (consumed, sent) in enumerate(months):
        name = f"{2020 + index // 12:04d}-{index % 12 + 1:02d}"
        done = compensate(name, consumed, sent, minimum, credits)
        assert done.compensado_kwh <= max(consumed - minimum, D(0))  # the minimum stays due
        assert all(months_between(c.origem, name) <= 60 for c in done.creditos)
        injected, compensated, expired = injected + sent, compensated + done.compensado_kwh, expired + done.expirado_kwh
        credits = done.creditos
    assert injected == compensated + sum((c.kwh for c in credits), D(0)) + expired


def months_between(first: str, last: str) -> int:
    (y1, m1), (y2, m2) = (map(int, first.split("-")), map(int, last.split("-")))
    return (y2 - y1) * 12 + m2 - m1
