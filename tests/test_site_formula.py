"""A site's consumption equals opengrid's formula for any sequence of valid readings."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from servidor.domain.categories import flow_policy
from servidor.domain.consumption import Consumption
from servidor.domain.gate import HeavyReads
from servidor.domain.meters import Meter
from servidor.domain.site_flows import SiteFlows, site_row, MeterFlow
from servidor.store.readings import BUCKET_MS, ReadingStore
from shared.models import Reading

T0 = 1_700_000_000_000 - 1_700_000_000_000 % (4 * BUCKET_MS)
STEP = 10 * 60_000
CATEGORIES = ("gridNet", "gridImport", "pvProd", "gridExport", "gridCons", "gridSub")

rises = st.lists(st.floats(min_value=0.0, max_value=300.0, allow_nan=False), min_size=1, max_size=30)
net_steps = st.lists(st.floats(min_value=-300.0, max_value=300.0, allow_nan=False), min_size=1, max_size=30)


def counter(start: float, steps: list[float]) -> list[float]:
    values = [start]
    for step in steps:
        values.append(values[-1] + step)
    return values


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(net=net_steps, imported=rises, produced=rises, exported=rises, direct=rises, sub=rises,
       interval=st.sampled_from(["15min", "hora", "dia"]))
def test_site_consumption_is_the_formula_over_the_meters_counters(tmp_path_factory, net, imported, produced, exported,
                                                                  direct, sub, interval):
    series = dict(zip(CATEGORIES, (counter(50_000.0, net), counter(1_000.0, imported), counter(0.0, produced),
                                   counter(0.0, exported), counter(0.0, direct), counter(0.0, sub))))
    meters = [Meter(f"m-{c}", c, categoria=c, fuso="UTC", site="s") for c in CATEGORIES]
    with ReadingStore.open(tmp_path_factory.mktemp("site"), durable=False) as store:
        for meter in meters:
            store.set_flow(meter.stream, flow_policy(meter))
            values = series[meter.categoria]
            store.append(meter.stream, [Reading(i + 1, T0 + i * STEP, v) for i, v in enumerate(values)])
        flows = SiteFlows(store, Consumption(store, HeavyReads()), HeavyReads())
        end = T0 + 40 * STEP
        rows = flows.site_rows(meters[0].tz, meters, interval, T0, end, end)
    rise = {c: v[-1] - v[0] for c, v in series.items()}
    formula = rise["gridNet"] + rise["gridImport"] + rise["pvProd"] - rise["gridExport"] + rise["gridCons"]
    assert sum(r["consumo_kwh"] for r in rows) == pytest.approx(formula / 1000, abs=1e-5)
    assert sum(r["liquido_kwh"] for r in rows) == pytest.approx(
        (rise["gridNet"] + rise["gridImport"] - rise["gridExport"]) / 1000, abs=1e-5)
    for row in rows:
        assert 0.0 <= row["autoconsumo_kwh"] <= row["producao_kwh"] + 1e-9
        assert row["autossuficiencia_pct"] is None or 0.0 <= row["autossuficiencia_pct"] <= 100.0


def test_a_sub_meter_heat_and_water_are_never_added():
    meter = {c: Meter(f"m-{c}", c, categoria=c) for c in ("gridImport", "gridSub", "heatProd", "gridWater")}
    row = site_row([(meter[c], MeterFlow(1000.0, 0.0, 0)) for c in meter])
    assert row["consumo_kwh"] == 1.0 and row["producao_kwh"] == 0.0 and row["autossuficiencia_pct"] == 0.0
