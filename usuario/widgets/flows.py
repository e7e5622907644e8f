"""Energy that flows both ways, as the app words it: what a producer or a net meter shows instead
of a consumption limit (production, import, export), and a site's figures."""
from __future__ import annotations

from typing import Any, Mapping

from .. import format as fmt
from ..models import Meter

# Categories whose energy is consumption, watched by the monthly limit (the server's rule).
CONSUMING = ("gridImport", "gridCons", "gridSub", "gridNet")


def watches_limit(meter: Meter) -> bool:
    """A limit applies to a consuming meter only, and to a net meter's import."""
    return meter.categoria in CONSUMING and bool(meter.limite_alerta_kwh)


def flow_text(meter: Meter) -> str | None:
    """The month in words for a meter that produces, exports or counts m³; None for the others."""
    summary = meter.resumo
    if summary.grandeza == "producao":
        return f"Produziu {fmt.kwh(summary.kwh_mes)} no mês: geração não tem fatura nem limite de consumo."
    if summary.grandeza == "exportacao":
        return f"Enviou {fmt.kwh(summary.kwh_mes)} à rede no mês: exportação não tem fatura nem limite."
    if summary.grandeza == "volume":
        return f"{fmt.number(summary.kwh_mes, 3)} m³ no mês (água e gás não têm limite de energia)."
    if summary.exportado_kwh_mes is not None:
        credits = "" if summary.saldo_creditos_kwh is None else \
            f" Créditos de energia: {fmt.kwh(summary.saldo_creditos_kwh)}."
        return (f"Importou {fmt.kwh(summary.importado_kwh_mes)}, exportou {fmt.kwh(summary.exportado_kwh_mes)} "
                f"no mês: líquido {fmt.kwh(summary.liquido_kwh_mes)}.{credits}")
    return None


def site_summary(totals: Mapping[str, Any]) -> str:
    """A site's totals in one paragraph (the site screen's header)."""
    sufficiency = totals.get("autossuficiencia_pct")
    return (f"Consumo {fmt.kwh(totals['consumo_kwh'])} · da rede {fmt.kwh(totals['importado_kwh'])} · "
            f"enviado à rede {fmt.kwh(totals['exportado_kwh'])} · solar {fmt.kwh(totals['producao_kwh'])} · "
            f"autoconsumo {fmt.kwh(totals['autoconsumo_kwh'])} · autossuficiência "
            f"{fmt.MISSING if sufficiency is None else fmt.percent(sufficiency)}")
