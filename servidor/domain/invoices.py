"""Monthly invoices, computed from the rollups; a closed month's invoice is kept and re-issued
(new version) when late readings or a tariff correction change it (DOMAIN.md §5.3, §5.4)."""
from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal
from typing import Any

from servidor.billing.calendar import local_date, month_bounds
from servidor.billing.tariffs import Fatura, compute_invoice, project_month_kwh
from servidor.domain.consumption import Consumption
from servidor.domain.meters import Meter, now_iso
from servidor.domain.tariffs import TariffBook
from servidor.store.documents import DocumentStore
from servidor.store.interface import ReadingsBackend

INVOICES = "faturas"
# Invoices are listed from the first month with readings, but never more than this many months
# back: ten years of monthly invoices is more than any screen shows.
MAX_MONTHS = 120


def month_key(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


class Invoices:
    def __init__(self, docs: DocumentStore, readings: ReadingsBackend, consumption: Consumption, tariffs: TariffBook) -> None:
        self._docs = docs
        self._readings = readings
        self._consumption = consumption
        self._tariffs = tariffs
        self._lock = threading.Lock()

    def compute(self, meter: Meter, year: int, month: int, now_ms: int) -> Fatura:
        energy = self._consumption.month(meter, year, month)
        start, end = month_bounds(meter.tz, year, month)
        return compute_invoice(
            self._tariffs.for_meter(meter.tarifa), meter.id, month_key(year, month),
            Decimal(str(round(energy.kwh, 3))), cobertura=round(energy.cobertura, 4), parcial=now_ms < end,
        )

    def issue(self, meter: Meter, year: int, month: int, now_ms: int) -> dict[str, Any]:
        """The invoice as the API shows it; closed months are recorded and re-issued on change."""
        invoice = self.compute(meter, year, month, now_ms)
        body = invoice.to_json()
        if invoice.parcial:
            body["situacao"] = "aberta"
            return body
        key = month_key(year, month)
        with self._lock:
            stored = self._docs.get(INVOICES, "chave", f"{meter.id}/{key}")
            if stored is None or stored["fatura"] != body:
                version = 1 if stored is None else stored["versao"] + 1
                record = {
                    "chave": f"{meter.id}/{key}", "medidor": meter.id, "mes": key, "versao": version,
                    "emitida_em": stored["emitida_em"] if stored else now_iso(),
                    "reemitida_em": now_iso() if stored else None, "fatura": body,
                }
                self._docs.upsert(INVOICES, "chave", record)
                stored = record
        return {**body, "situacao": "fechada", "versao": stored["versao"],
                "emitida_em": stored["emitida_em"], "reemitida_em": stored["reemitida_em"]}

    def months(self, meter: Meter, now_ms: int) -> list[tuple[int, int]]:
        first_ts = self._readings.first_ts(meter.id)
        today = local_date(meter.tz, now_ms)
        if first_ts is None:
            return [(today.year, today.month)]
        first = local_date(meter.tz, min(first_ts, now_ms))
        months = []
        year, month = today.year, today.month
        while (year, month) >= (first.year, first.month) and len(months) < MAX_MONTHS:
            months.append((year, month))
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        return months

    def projected_total(self, meter: Meter, now_ms: int) -> dict[str, Any]:
        """This month's invoice if the pace so far holds to the end of the month."""
        energy, elapsed, length = self._consumption.month_progress(meter, now_ms)
        today: date = local_date(meter.tz, now_ms)
        kwh = project_month_kwh(energy.kwh, elapsed, length)
        invoice = compute_invoice(
            self._tariffs.for_meter(meter.tarifa), meter.id, month_key(today.year, today.month),
            Decimal(str(round(kwh, 3))), cobertura=round(energy.cobertura, 4), parcial=True,
        )
        return {"kwh": round(kwh, 3), "total": float(invoice.total), "total_formatado": invoice.to_json()["total_formatado"]}

    def forget_meter(self, meter_id: str) -> None:
        self._docs.delete(INVOICES, "medidor", meter_id)
