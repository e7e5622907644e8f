"""Tesla Analyzer's <dataexport>s: every recorded period also goes to a local file
(medidor/local_file.py) or to a central server (medidor/client_rest.py), each through its own
durable queue: a spool of its own under `<estado>/exportacoes/<n>-<tipo>/`, appended right after
the server's spool and drained by its own thread. A period leaves an export's queue only once
delivered, so a crash, a full disk for the file or an outage of the central loses nothing of
it; exports never hold up the readings sent to the monitor-energia server, nor each other.
"""
from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Callable, Sequence

from shared.backoff import Backoff
from shared.models import MEASUREMENT_CODES
from medidor.client_rest import ClientRest, TryLater
from medidor.config import AgentConfig, ExportSpec
from medidor.local_file import LocalFile, Values
from medidor.spool import Spool, SpoolRecord

log = logging.getLogger("medidor.exportacao")

# Periods each export keeps waiting at most: a year of 15-min periods, and any outage worth
# riding out with 1-min periods (~8 months).
MAX_WAITING = 366 * 96
# Periods taken from the queue per turn of its thread.
BATCH = 100
# Retries after a failed delivery: 1 s doubling to 5 min, so a central that is down for hours
# is asked gently, and one back after a blip gets the backlog at once.
RETRY_BASE_S = 1.0
RETRY_CAP_S = 300.0
# The thread wakes at least this often to notice a stop.
TICK_S = 1.0

Deliver = Callable[[datetime, Values], None]


def period_of(payload: bytes, tz: tzinfo) -> tuple[datetime, Values]:
    """A spooled reading's local instant and its measurement codes."""
    reading = json.loads(payload)
    moment = datetime.fromisoformat(reading["ts"]).astimezone(tz)
    values = {code: tuple(v) if isinstance(v, list) else v for code, v in reading.items() if code in MEASUREMENT_CODES}
    return moment, values


class ExportQueue:
    """One export: `append` the spooled records (measuring thread), `start`, `stop` (joins)."""

    def __init__(self, name: str, directory: Path, deliver: Deliver, tz: tzinfo, *, kind: str = "",
                 backoff: Backoff | None = None, close: Callable[[], None] = lambda: None) -> None:
        self.name = name
        self.kind = kind  # localFile or clientRest
        self.spool = Spool(directory, max_records=MAX_WAITING)
        self._deliver = deliver
        self._tz = tz
        self._backoff = backoff or Backoff(RETRY_BASE_S, RETRY_CAP_S)
        self._close = close
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered = 0
        self.last_error: str | None = None

    def append(self, records: Sequence[SpoolRecord]) -> None:
        """Queue these periods (fsynced). An export that cannot take them (its disk is full)
        loses them with an error in the log; the server's spool already holds them."""
        try:
            self.spool.append(records)
        except (OSError, ValueError) as exc:
            log.error("%s: %d período(s) não entraram na fila desta exportação: %s", self.name, len(records), exc)
            return
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"exportacao-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._close()
        self.spool.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self.spool.peek(BATCH)
            if not batch:
                self._wake.wait(TICK_S)
                self._wake.clear()
                continue
            for record in batch:
                if self._stop.is_set():
                    return
                try:
                    self._deliver(*period_of(record.payload, self._tz))
                except (TryLater, OSError) as exc:
                    self._failed(str(exc))
                    break
                except (ValueError, KeyError) as exc:  # a record no export can read: never retried
                    log.error("%s: período ilegível descartado (seq %d): %s", self.name, record.seq, exc)
                self.spool.ack_through(record.seq)
                self.delivered += 1
                if self.last_error is not None:
                    log.info("%s: exportando de novo (%d na fila)", self.name, self.spool.pending)
                    self.last_error = None
                self._backoff.reset()

    def _failed(self, error: str) -> None:
        delay = self._backoff.next_delay()
        if self.last_error is None:
            log.warning("%s: %s; %d período(s) esperam na fila, nova tentativa em %.0f s", self.name, error,
                        self.spool.pending, delay)
        self.last_error = error
        self._stop.wait(delay)


def open_exports(config: AgentConfig, tz: tzinfo) -> list[ExportQueue]:
    """The agent's exports, their queues opened (SpoolError if one is damaged)."""
    queues = []
    for number, spec in enumerate(config.exportacoes, start=1):
        directory = config.estado / "exportacoes" / f"{number}-{spec.tipo}"
        queues.append(_queue(config, spec, directory, tz))
    return queues


def _queue(config: AgentConfig, spec: ExportSpec, directory: Path, tz: tzinfo) -> ExportQueue:
    name = f"{config.medidor} {spec.tipo} {spec.destino}"
    if spec.tipo == "localFile":
        target = LocalFile(Path(spec.destino) / spec.equip, config.codigos)
        return ExportQueue(name, directory, lambda moment, values: _write(target, moment, values), tz, kind=spec.tipo)
    client = ClientRest(spec.destino, spec.no, spec.equip, spec.modelo, config.chave_central)
    return ExportQueue(name, directory, client.send, tz, kind=spec.tipo, close=client.close)


def _write(target: LocalFile, moment: datetime, values: Values) -> None:
    target.write(moment, values)
