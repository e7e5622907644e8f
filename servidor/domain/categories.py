"""What each of opengrid's meter categories measures, and how the server counts it.

| category | counter | its energy is | billed, limit alert |
|---|---|---|---|
| gridImport | rises with energy taken from the grid | consumption (import) | yes |
| gridCons | rises with a site's consumption | consumption | yes |
| gridSub | a sub-meter inside a site | consumption (shown, never added to its site) | yes |
| gridNet | rises with import, falls with export | import, export, net | yes, on import |
| gridExport | rises with energy sent to the grid | export | no |
| pvProd, heatProd | rise with production | production | no |
| gridWater, gridGas | m³ | volume, never energy | no |

Any kWh meter may also send a second counter, of exported energy (`energia_exportada_wh`, with
`energia_importada_wh` for the first): it is kept in a stream of its own (`export_stream`).
"""
from __future__ import annotations

from typing import Any, Iterable

from servidor.domain.meters import STREAM_SEPARATOR, Meter
from servidor.store.interface import ReadingsBackend
from servidor.store.readings import FlowPolicy

CONSUMING = ("gridImport", "gridCons", "gridSub", "gridNet")
PRODUCING = ("pvProd", "heatProd")
VOLUME = ("gridWater", "gridGas")
# What a meter's own figure (`kwh` of a bucket, `kwh_mes` of its summary) is, per category.
MEASURE = {"gridImport": "consumo", "gridCons": "consumo", "gridSub": "consumo", "gridNet": "consumo",
           "gridExport": "exportacao", "pvProd": "producao", "heatProd": "producao",
           "gridWater": "volume", "gridGas": "volume"}
# The categories in words, for people (the web page, messages).
LABELS = {
    "gridImport": "importação da rede", "gridExport": "exportação para a rede", "pvProd": "geração solar",
    "gridNet": "rede (importação − exportação)", "gridCons": "consumo", "gridSub": "submedidor",
    "gridWater": "água", "gridGas": "gás", "heatProd": "geração de calor",
}
# Every figure a bucket may carry, in the order the API and the CSV feed list them.
FIGURES = ("kwh", "importado_kwh", "exportado_kwh", "liquido_kwh", "producao_kwh", "m3")
EXPORT_SUFFIX = "exportada"
WH_PER_KWH = 1000.0


def export_stream(meter: Meter) -> str:
    """Where a two-counter meter's exported-energy counter is stored."""
    return f"{meter.stream}{STREAM_SEPARATOR}{EXPORT_SUFFIX}"


def flow_policy(meter: Meter) -> FlowPolicy:
    return FlowPolicy(meter.categoria == "gridNet", meter.potencia_maxima_w)


def configure_streams(store: ReadingsBackend, meters: Iterable[Meter]) -> None:
    """Tell the readings store each meter's local days and how its counter moves: its rollups,
    and so its days, months and invoices, follow them."""
    for meter in meters:
        for stream in (meter.stream, export_stream(meter)):
            store.set_timezone(stream, meter.tz)
        store.set_flow(meter.stream, flow_policy(meter))


def consumes(meter: Meter) -> bool:
    """Whether the meter's energy is consumption: billed, watched by the monthly limit."""
    return meter.categoria in CONSUMING


def unit(meter: Meter) -> str:
    return "m³" if meter.categoria in VOLUME else "kWh"


def bucket_figures(meter: Meter, wh_in: float, wh_out: float, two_way: bool) -> dict[str, Any]:
    """A bucket's figures for the meter's category, from the Wh its counter rose (`wh_in`) and
    fell or exported (`wh_out`); `two_way`: the meter reports export (gridNet or two counters).

    `kwh` is the meter's own figure (MEASURE); volume meters give `m3` instead."""
    category = meter.categoria
    if category in VOLUME:
        return {"m3": round(wh_in / WH_PER_KWH, 6)}  # the counter counts litres: 1000 per m³
    kwh_in, kwh_out = round(wh_in / WH_PER_KWH, 6), round(wh_out / WH_PER_KWH, 6)
    if category == "gridExport":
        return {"kwh": kwh_in, "exportado_kwh": kwh_in}
    if category in PRODUCING:
        return {"kwh": kwh_in, "producao_kwh": kwh_in}
    out: dict[str, Any] = {"kwh": kwh_in}
    if category in ("gridImport", "gridNet") or two_way:
        out["importado_kwh"] = kwh_in
    if two_way:
        out["exportado_kwh"] = kwh_out
        out["liquido_kwh"] = round((wh_in - wh_out) / WH_PER_KWH, 6)
    return out
