"""A meter as the API shows it: its record, its last reading and a summary of its state."""
from __future__ import annotations

from typing import Any

from servidor.billing.calendar import local_date
from servidor.domain.alerts import Alerts
from servidor.domain.categories import MEASURE, consumes, unit
from servidor.domain.commands import CommandQueue
from servidor.domain.consumption import Consumption
from servidor.domain.invoices import Invoices
from servidor.domain.meters import Meter
from servidor.store.interface import ReadingsBackend
from shared.models import format_timestamp


class MeterViews:
    def __init__(self, readings: ReadingsBackend, consumption: Consumption, invoices: Invoices,
                 alerts: Alerts, commands: CommandQueue) -> None:
        self._readings = readings
        self._consumption = consumption
        self._invoices = invoices
        self._alerts = alerts
        self._commands = commands

    def view(self, meter: Meter, now_ms: int, *, detail: bool) -> dict[str, Any]:
        """The meter with its state: power now, kWh today and this month, projected invoice,
        alerts; with `detail`, the active alerts and pending commands themselves."""
        tz = meter.tz
        view = meter.to_json()
        last = self._readings.last(meter.stream)
        view["ultima_leitura"] = None if last is None else {
            "seq": last.seq, "ts": format_timestamp(last.ts_ms, tz), "energia_wh": last.energia_wh,
            "potencia_w": last.potencia_w,
        }
        month, window = self._consumption.month_progress(meter, now_ms)
        today = self._consumption.day(meter, local_date(tz, now_ms))
        limit = meter.limite_alerta_kwh if consumes(meter) else None
        active = self._alerts.active(meter.id) if detail else None
        view["resumo"] = {
            "potencia_w": self._consumption.power_now(meter, now_ms),
            "kwh_hoje": round(today.kwh, 3),
            "kwh_mes": round(month.kwh, 3),
            "cobertura_mes": round(month.cobertura, 4),
            "fatura_projetada": self._invoices.projected_total(meter, now_ms),
            "limite_uso_pct": None if not limit else round(100.0 * month.kwh / limit, 1),
            "alertas_ativos": len(active) if active is not None else self._alerts.count_active(meter.id),
            "leituras": self._readings.count(meter.stream),
            "grandeza": MEASURE[meter.categoria],
            "unidade": unit(meter),
        }
        balance = self._invoices.credit_balance(meter, now_ms)
        if balance is not None:
            view["resumo"]["saldo_creditos_kwh"] = round(balance, 3)
        if self._consumption.two_way(meter):
            exported = self._consumption.exported_kwh(meter, window.first, window.last)
            view["resumo"].update(importado_kwh_mes=round(month.kwh, 3), exportado_kwh_mes=round(exported, 3),
                                  liquido_kwh_mes=round(month.kwh - exported, 3))
        if detail:
            view["alertas_ativos"] = active
            view["comandos_pendentes"] = [c.to_json() for c in self._commands.pending(meter.id)]
        return view
