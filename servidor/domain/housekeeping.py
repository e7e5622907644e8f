"""The one background thread of the domain: silence alerts, the month checks ingest skipped,
and recording issued invoices."""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from servidor.domain.alerts import Alerts
from servidor.domain.invoices import Invoices
from servidor.domain.registry import MeterRegistry

# How often: a tenth of the shortest silence threshold (60 s) is frequent enough and costs one
# walk over the meters.
INTERVAL_S = 30.0
log = logging.getLogger("servidor")


class Housekeeper:
    """Owns its thread: `start()` runs `run_once` every interval, `stop()` runs it a last time
    (so issued invoices are recorded) and joins."""

    def __init__(self, meters: MeterRegistry, alerts: Alerts, invoices: Invoices,
                 interval_s: float = INTERVAL_S, clock: Callable[[], float] = time.time) -> None:
        self._meters = meters
        self._alerts = alerts
        self._invoices = invoices
        self._interval = interval_s
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="housekeeping", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def run_once(self) -> None:
        # Each job on its own: a failing one (a full disk) must not skip the other.
        for job in (lambda: self._alerts.check_silence(self._meters.all(), int(self._clock() * 1000)),
                    lambda: self._alerts.check_skipped_months(self._meters.all(), int(self._clock() * 1000)),
                    self._invoices.flush):
            try:
                job()
            except Exception:
                log.exception("falha na manutenção periódica")

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.run_once()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        try:
            self._invoices.flush()
        except Exception:
            log.exception("faturas emitidas não foram gravadas ao parar")
