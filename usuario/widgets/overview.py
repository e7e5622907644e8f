"""Visão geral: power now in large digits, today, this month, the projected invoice and how far
the month is from the alert limit. Everything comes from the meter's `resumo`; no extra call."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid, Horizontal
from textual.widgets import Digits, Label, ProgressBar, Static

from .. import format as fmt
from ..models import Meter
from .base import MeterPane
from .flows import flow_text, watches_limit


def power_digits(meter: Meter) -> str:
    """The number Digits draws: whole watts in pt-BR grouping, or a dash with no recent reading."""
    power = meter.resumo.potencia_w
    return "-" if power is None else fmt.number(power, 0)


def power_note(meter: Meter) -> str:
    last = meter.ultima_leitura
    if meter.resumo.potencia_w is None:
        if last is None:
            return "W · nenhuma leitura ainda"
        return f"W · sem leitura recente (última em {fmt.moment(last.ts, meter.tz)})"
    when = "" if last is None else f" · leitura de {fmt.moment(last.ts, meter.tz)}"
    return f"W agora{when}"


def limit_text(meter: Meter) -> str:
    """How far this month is from the alert limit, in words; for a producer or a net meter, its
    month's production, import and export (a producer has no limit to watch)."""
    flows = flow_text(meter)
    if not watches_limit(meter):
        return flows or "Sem limite de alerta definido (ajuste em Controle)."
    limit = meter.limite_alerta_kwh or 0.0
    used = meter.resumo.kwh_mes
    pct = meter.resumo.limite_uso_pct if meter.resumo.limite_uso_pct is not None else 100.0 * used / limit
    if used > limit:
        text = f"{fmt.percent(pct)} do limite de {fmt.kwh(limit)}: passou {fmt.kwh(used - limit)}."
    else:
        text = f"{fmt.percent(pct)} do limite de {fmt.kwh(limit)}: faltam {fmt.kwh(limit - used)}."
    return text if flows is None else f"{text}\n{flows}"


class OverviewPane(MeterPane):
    TITLE = "Visão geral"

    def compose(self) -> ComposeResult:
        with Horizontal(id="power-row"):
            yield Digits(power_digits(self.meter), id="power")
            yield Label(power_note(self.meter), id="power-note")
        with Grid(id="overview-grid"):
            yield Label("Hoje", classes="caption")
            yield Static(id="ov-hoje")
            yield Label("Este mês", classes="caption")
            yield Static(id="ov-mes")
            yield Label("Fatura projetada", classes="caption")
            yield Static(id="ov-fatura")
            yield Label("Alertas ativos", classes="caption")
            yield Static(id="ov-alertas")
            yield Label("Limite do mês", classes="caption")
            yield Static(id="ov-limite")
        yield ProgressBar(total=100, show_eta=False, show_percentage=False, id="limit-bar")

    def on_mount(self) -> None:
        self.show_meter(self.meter)

    def show_meter(self, meter: Meter) -> None:
        super().show_meter(meter)
        summary = meter.resumo
        self.query_one("#power", Digits).update(power_digits(meter))
        self.query_one("#power-note", Label).update(power_note(meter))
        self.query_one("#ov-hoje", Static).update(fmt.kwh(summary.kwh_hoje))
        self.query_one("#ov-mes", Static).update(
            f"{fmt.kwh(summary.kwh_mes)}  (cobertura {fmt.percent(100 * summary.cobertura_mes)})")
        projected = summary.fatura_projetada
        self.query_one("#ov-fatura", Static).update(
            fmt.MISSING if projected is None else f"{fmt.brl(projected.total)}  ({fmt.kwh(projected.kwh)} no mês)")
        alerts = summary.alertas_ativos
        self.query_one("#ov-alertas", Static).update(
            "nenhum" if not alerts else f"{alerts} (veja a aba Alertas)")
        self.query_one("#ov-alertas", Static).set_class(bool(alerts), "warning")
        self.query_one("#ov-limite", Static).update(limit_text(meter))
        over = watches_limit(meter) and summary.kwh_mes > (meter.limite_alerta_kwh or 0)
        self.query_one("#ov-limite", Static).set_class(over, "warning")
        bar = self.query_one("#limit-bar", ProgressBar)
        bar.display = watches_limit(meter)
        if meter.limite_alerta_kwh:
            bar.update(progress=min(100.0, 100.0 * summary.kwh_mes / meter.limite_alerta_kwh))
        bar.set_class(over, "over")
