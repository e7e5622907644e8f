"""Monthly invoices, computed from the rollups; a closed month's invoice is recorded and re-issued
(new version) when late readings or a tariff correction change it.

Reading an invoice never writes the document store: a closed month whose invoice is new or
changed gets its next version at once (in memory, so every reader sees the same one), and the
housekeeping thread records the pending versions in one write (`flush`). A crash before that
loses no money, only the record: the next read issues the same version again.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

from servidor.billing.calendar import local_date
from servidor.billing.tariffs import compute_invoice, project_month_kwh
from servidor.domain.atomic import Tables, atomic
from servidor.domain.consumption import Consumption, MonthWindow, month_window
from servidor.domain.errors import InvalidInput, NotFound
from servidor.domain.gate import HeavyReads
from servidor.domain.meters import Meter, now_iso
from servidor.domain.tariffs import TariffBook
from servidor.store.documents import DocumentStore
from servidor.store.interface import ReadingsBackend

INVOICES = "faturas"
# Invoices are listed from the first month with readings, but never more than this many months
# back: ten years of monthly invoices is more than any screen shows.
MAX_MONTHS = 120
log = logging.getLogger("servidor.faturas")


class Invoices:
    def __init__(self, docs: DocumentStore, readings: ReadingsBackend, consumption: Consumption,
                 tariffs: TariffBook, heavy: HeavyReads) -> None:
        self._docs = docs
        self._readings = readings
        self._consumption = consumption
        self._tariffs = tariffs
        self._heavy = heavy
        self._lock = threading.Lock()
        self._recorded: dict[str, dict[str, Any]] = {d["chave"]: d for d in docs.all(INVOICES)}
        self._pending: dict[str, dict[str, Any]] = {}

    def for_month(self, meter: Meter, year: int, month: int, now_ms: int) -> dict[str, Any]:
        """The invoice of one month; NotFound for a month that has not begun."""
        try:
            window = month_window(meter.tz, year, month)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        if window.start_ms > now_ms:
            raise NotFound(f"a fatura de {window.key} ainda não existe: o mês não começou")
        return self._issue(meter, window, now_ms)

    def listing(self, meter: Meter, now_ms: int) -> list[dict[str, Any]]:
        """Every month's invoice, from this month back to the first with readings."""
        with self._heavy.turn():
            return [self._issue(meter, month_window(meter.tz, y, m), now_ms) for y, m in self._months(meter, now_ms)]

    def _issue(self, meter: Meter, window: MonthWindow, now_ms: int) -> dict[str, Any]:
        energy = self._consumption.month(meter, window)
        invoice = compute_invoice(self._tariffs.for_meter(meter.tarifa), meter.id, window.key, energy.kwh,
                                  cobertura=round(energy.cobertura, 4), parcial=now_ms < window.end_ms)
        body = invoice.to_json()
        if invoice.parcial:
            body["situacao"] = "aberta"
            return body
        key = f"{meter.stream}/{window.key}"
        with self._lock:
            record = self._pending.get(key) or self._recorded.get(key)
            if record is None or record["fatura"] != body:
                record = {
                    "chave": key, "medidor": meter.id, "mes": window.key, "fatura": body,
                    "versao": 1 if record is None else record["versao"] + 1,
                    "emitida_em": record["emitida_em"] if record else now_iso(),
                    "reemitida_em": now_iso() if record else None,
                }
                self._pending[key] = record
        return {**body, "situacao": "fechada", "versao": record["versao"],
                "emitida_em": record["emitida_em"], "reemitida_em": record["reemitida_em"]}

    def flush(self) -> int:
        """Record the versions issued since the last flush, in one write; returns how many."""
        with self._lock:
            pending = list(self._pending.values())
        if not pending:
            return 0

        def change(tables: Tables) -> None:
            for record in pending:
                tables.upsert(INVOICES, "chave", record)

        atomic(self._docs, change)
        with self._lock:
            for record in pending:
                # A record re-issued or forgotten (meter deleted) meanwhile stays as it is now.
                if self._pending.get(record["chave"]) is record:
                    del self._pending[record["chave"]]
                    self._recorded[record["chave"]] = record
        return len(pending)

    def _months(self, meter: Meter, now_ms: int) -> list[tuple[int, int]]:
        first_ts = self._readings.first_ts(meter.stream)
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
        energy, window = self._consumption.month_progress(meter, now_ms)
        kwh = project_month_kwh(energy.kwh, now_ms - window.start_ms, window.end_ms - window.start_ms)
        invoice = compute_invoice(self._tariffs.for_meter(meter.tarifa), meter.id, window.key, kwh,
                                  cobertura=round(energy.cobertura, 4), parcial=True)
        return {"kwh": float(invoice.kwh), "total": float(invoice.total), "total_formatado": invoice.to_json()["total_formatado"]}

    # -- deletion ------------------------------------------------------------------------------

    @staticmethod
    def remove_rows(tables: Tables, meter_id: str) -> None:
        tables.remove(INVOICES, "medidor", meter_id)

    def forget(self, meter_id: str) -> None:
        with self._lock:
            for store in (self._recorded, self._pending):
                for key in [k for k, r in store.items() if r["medidor"] == meter_id]:
                    del store[key]
