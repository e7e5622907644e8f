"""A site's energy per period, by opengrid's formula, and the analysis feed (`serie`).

    consumo = gridNet (import − export) + gridImport + pvProd − gridExport + gridCons

Per meter category, a bucket adds to: gridNet and gridImport → import (their export counter, if
any, → export); gridExport → export; pvProd → production; gridCons → consumption measured
directly. gridSub (inside the site, already counted by its parent), heatProd (heat, not
electricity) and m³ meters are listed with the site but never summed. Then

    autoconsumo = production − export, within [0, production]
    autossuficiencia_pct = 100 · autoconsumo / consumo (null when nothing was consumed)

Every bucket reads the rollups by instants (15-minute buckets), so meters in other zones than the
site's add up in the site's calendar.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence
from zoneinfo import ZoneInfo

from servidor.billing.calendar import Bucket, local_buckets
from servidor.domain.categories import FIGURES, bucket_figures, export_stream
from servidor.domain.consumption import Consumption
from servidor.domain.errors import InvalidInput, TooCostly
from servidor.domain.gate import HeavyReads
from servidor.domain.meters import Meter
from servidor.store.interface import ReadingsBackend
from shared.models import format_timestamp

WH_PER_KWH = 1000.0
QUARTER_MS = 900_000
SERIES_INTERVALS = ("15min", "hora", "dia")
# Rows of one series: a year of quarter hours (35,136 in a leap year) fits; emoncms caps its
# answers at 20,000 points, pandas reads this many in milliseconds.
MAX_ROWS = 36_000
# Bucket reads per request (rows × meters): a year of hours of 8 meters.
MAX_READS = 80_000
SUMMED = {"gridNet", "gridImport", "gridExport", "pvProd", "gridCons"}
SITE_FIGURES = ("consumo_kwh", "importado_kwh", "exportado_kwh", "liquido_kwh", "producao_kwh", "autoconsumo_kwh",
                "autossuficiencia_pct")


@dataclass(frozen=True, slots=True)
class MeterFlow:
    """Wh in (counter rise), Wh out (export) and covered ms of one meter in one bucket."""

    wh_in: float
    wh_out: float
    covered: int


def buckets_for(tz: ZoneInfo, interval: str, start_ms: int, end_ms: int) -> list[Bucket]:
    """Local hours or days (or months) of [start, end), or quarter hours for `15min`."""
    if start_ms >= end_ms:
        return []
    if interval != "15min":
        try:
            return local_buckets(tz, interval, start_ms, end_ms)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
    first = start_ms - start_ms % QUARTER_MS
    if (end_ms - first) // QUARTER_MS > MAX_ROWS:
        raise TooCostly(f"série grande demais: mais de {MAX_ROWS} quartos de hora; peça um período menor")
    return [Bucket(t, t + QUARTER_MS, format_timestamp(t, tz)) for t in range(first, end_ms, QUARTER_MS)]


def site_row(members: Sequence[tuple[Meter, MeterFlow]]) -> dict[str, Any]:
    """The site's figures for one bucket from its meters' flows (see the module's docstring)."""
    imported = exported = produced = direct = 0.0
    for meter, flow in members:
        category = meter.categoria
        if category in ("gridNet", "gridImport"):
            imported += flow.wh_in
            exported += flow.wh_out
        elif category == "gridExport":
            exported += flow.wh_in
        elif category == "pvProd":
            produced += flow.wh_in
        elif category == "gridCons":
            direct += flow.wh_in
    consumed = imported - exported + produced + direct
    own = min(max(produced - exported, 0.0), produced)
    sufficiency = None if consumed <= 0 else round(min(100.0, 100.0 * own / consumed), 2)
    return {"consumo_kwh": round(consumed / WH_PER_KWH, 6), "importado_kwh": round(imported / WH_PER_KWH, 6),
            "exportado_kwh": round(exported / WH_PER_KWH, 6),
            "liquido_kwh": round((imported - exported) / WH_PER_KWH, 6),
            "producao_kwh": round(produced / WH_PER_KWH, 6), "autoconsumo_kwh": round(own / WH_PER_KWH, 6),
            "autossuficiencia_pct": sufficiency}


class SiteFlows:
    def __init__(self, readings: ReadingsBackend, consumption: Consumption, heavy: HeavyReads) -> None:
        self._readings = readings
        self._consumption = consumption
        self._heavy = heavy

    def meter_flows(self, meter: Meter, buckets: Sequence[Bucket]) -> list[MeterFlow]:
        two_way = self._consumption.two_way(meter)
        flows = []
        for bucket in buckets:
            start, end = bucket.inicio_ms, bucket.fim_ms
            wh_in, covered = self._readings.energy(meter.stream, start, end)
            wh_out = 0.0
            if two_way:
                wh_out = (self._readings.energy(meter.stream, start, end, exported=True)[0]
                          + self._readings.energy(export_stream(meter), start, end)[0])
            flows.append(MeterFlow(max(wh_in, 0.0), max(wh_out, 0.0), covered))
        return flows

    def _check(self, buckets: Sequence[Bucket], meters: int) -> None:
        if len(buckets) > MAX_ROWS or len(buckets) * max(meters, 1) > MAX_READS:
            raise TooCostly(f"consulta grande demais: {len(buckets)} períodos × {meters} medidores "
                            f"(máximo {MAX_ROWS} períodos e {MAX_READS} leituras de período); "
                            "peça um período menor ou um intervalo maior")

    def site_rows(self, tz: ZoneInfo, meters: Sequence[Meter], interval: str, start_ms: int, end_ms: int,
                  now_ms: int) -> list[dict[str, Any]]:
        """The site's rows: rotulo, inicio, fim, SITE_FIGURES, cobertura (the least covered summed
        meter's), `parcial` for now's."""
        buckets = buckets_for(tz, interval, start_ms, end_ms)
        summed = [m for m in meters if m.categoria in SUMMED]
        self._check(buckets, len(summed))
        with self._heavy.turn():
            flows = [(m, self.meter_flows(m, buckets)) for m in summed]
        rows = []
        for k, bucket in enumerate(buckets):
            members = [(m, f[k]) for m, f in flows]
            length = bucket.fim_ms - bucket.inicio_ms
            covered = min((f.covered for _, f in members), default=0)
            row = {"rotulo": bucket.rotulo, "inicio": format_timestamp(bucket.inicio_ms, tz),
                   "fim": format_timestamp(bucket.fim_ms, tz), **site_row(members),
                   "cobertura": round(min(1.0, covered / length), 4) if length > 0 else 0.0}
            if bucket.inicio_ms <= now_ms < bucket.fim_ms:
                row["parcial"] = True
            rows.append(row)
        return rows

    def meter_rows(self, meter: Meter, interval: str, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        """One meter's series rows: rotulo, inicio, its category's figures, cobertura."""
        tz = meter.tz
        buckets = buckets_for(tz, interval, start_ms, end_ms)
        self._check(buckets, 1)
        two_way = self._consumption.two_way(meter)
        with self._heavy.turn():
            flows = self.meter_flows(meter, buckets)
        rows = []
        for bucket, flow in zip(buckets, flows):
            length = bucket.fim_ms - bucket.inicio_ms
            rows.append({"rotulo": bucket.rotulo, "inicio": format_timestamp(bucket.inicio_ms, tz),
                         **bucket_figures(meter, flow.wh_in, flow.wh_out, two_way),
                         "cobertura": round(min(1.0, flow.covered / length), 4) if length > 0 else 0.0})
        return rows


def series(rows: Sequence[dict[str, Any]], figures: Sequence[str]) -> dict[str, Any]:
    """opengrid's `getAllData` shape: {"timestamps": [...], "colunas": {figure: [...]}}."""
    present = [f for f in figures if rows and f in rows[0]] + ["cobertura"]
    return {"timestamps": [r["inicio"] for r in rows], "colunas": {f: [r.get(f) for r in rows] for f in present}}


def series_csv(feed: dict[str, Any]) -> str:
    """The feed as CSV: a header, one row per bucket, a decimal point, empty for null."""
    names = list(feed["colunas"])
    lines = [",".join(["timestamp", *names])]
    for k, stamp in enumerate(feed["timestamps"]):
        cells = [stamp] + ["" if feed["colunas"][n][k] is None else repr(float(feed["colunas"][n][k])) for n in names]
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


METER_FIGURES = FIGURES
