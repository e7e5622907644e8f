"""Alerts: raised from the rules in `servidor.domain.alert_rules` and by agents, kept in the document store.

An alert is identified by its kind and cause (`tipo`, `chave`), and a cause has at most one open
alert: a finding whose cause is already open adds to its `ocorrencias` (and refreshes its message
and `ultima_em`) instead of making another. Kinds that name one moment (a month's limit, a
silence that began at a given reading) happen once: seen again, they change nothing, even after
being acknowledged. Kinds that recur (counter resets, the agent's failures) open a new alert once
the previous one was acknowledged. All findings of one ingest are recorded in one write, and each
meter keeps at most MAX_KEPT_PER_METER alerts (the oldest acknowledged go first).
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from typing import Any, Callable, Iterable, Sequence

from servidor.domain.alert_rules import (
    REINICIO_CONTADOR,
    SILENCIO,
    Finding,
    evaluate_month,
    evaluate_silence,
    reset_finding,
)
from servidor.domain.atomic import Tables, atomic
from servidor.domain.consumption import Consumption
from servidor.domain.errors import InvalidInput, NotFound
from servidor.domain.categories import consumes
from servidor.domain.meters import Meter, now_iso
from servidor.store.interface import ReadingsBackend
from shared.models import Reading

ALERTS = "alertas"
# Alerts an agent may raise itself (the drivers' repeated device failures, a full spool).
AGENT_ALERT_TYPES = ("falha_dispositivo", "spool_cheio")
MAX_MESSAGE = 500
# The agent's name for a failure's cause ("modbus", "porta-serial"): short, or every distinct
# text would be a new alert of any size.
MAX_CAUSE = 100
RECURRING = frozenset({REINICIO_CONTADOR, *AGENT_ALERT_TYPES})
# Alerts kept per meter: years of monthly alerts and every recent failure, never an unbounded list.
MAX_KEPT_PER_METER = 200
# A meter's month is checked against its limit on ingest at most this often; a check skipped
# meanwhile is done by the housekeeping thread. An agent posting every 10 s is checked on every
# post; a flood of posts costs one check per interval, not one per request.
MONTH_CHECK_S = 10.0
# Where to look for the counter value before a reset, to say in the alert what it dropped from.
RESET_LOOKBACK_MS = 24 * 3600 * 1000
RESET_LOOKBACK_ROWS = 10_000
log = logging.getLogger("servidor.alertas")


def agent_finding(body: Any) -> Finding:
    """What an agent reports (`tipo`, `mensagem`, optional `chave`) as a finding; InvalidInput
    with the reason otherwise."""
    if not isinstance(body, dict) or body.get("tipo") not in AGENT_ALERT_TYPES:
        raise InvalidInput(f"tipo deve ser um de: {', '.join(AGENT_ALERT_TYPES)}")
    message = body.get("mensagem")
    if not isinstance(message, str) or not message.strip() or len(message) > MAX_MESSAGE:
        raise InvalidInput(f"mensagem deve ser um texto de 1 a {MAX_MESSAGE} caracteres")
    cause = body.get("chave", message)
    if "chave" in body and (not isinstance(cause, str) or not cause.strip() or len(cause) > MAX_CAUSE):
        raise InvalidInput(f"chave deve ser um texto de 1 a {MAX_CAUSE} caracteres")
    return Finding(body["tipo"], f"{body['tipo']}:{cause}", message.strip())


class Alerts:
    def __init__(self, docs: Any, readings: ReadingsBackend, consumption: Consumption,
                 started_ms: int | None = None) -> None:
        self._docs = docs
        self._readings = readings
        self._consumption = consumption
        self._lock = threading.Lock()
        self._by_meter: dict[str, list[dict[str, Any]]] = {}
        # Documents shared by several servers: a meter's alerts are read from them, not only kept here.
        self._shared = bool(getattr(docs, "shared", False))
        for doc in _normalised(docs.all(ALERTS)):
            self._by_meter.setdefault(doc["medidor"], []).append(doc)
        # meter id → month key whose limit alert exists: that month needs no more checks.
        self._month_done: dict[str, str] = {}
        # meter id → monotonic time of its last month check; ids whose check was skipped since.
        self._month_checked: dict[str, float] = {}
        self._month_skipped: set[str] = set()
        # Silence is judged by when readings arrive, not by their timestamps: a backfill of last
        # month is a meter speaking now. The store keeps each stream's last arrival
        # (`arrivals`), in the database when several servers share one, so every server judges
        # by the same instant, and the alert's key (that instant) is the same on all of them.
        # Before a meter's first arrival known to the store, its silence counts from its newest
        # reading; and never from before this server started (a stopped server could not be
        # spoken to). Ids with an open silence alert, which their next reading resolves.
        self._started_ms = int(time.time() * 1000) if started_ms is None else started_ms
        self._silent: set[str] = {m for m, alerts in self._by_meter.items() if _open_silence(alerts)}
        # Told of every alert that opens, after it is stored (the app sends webhooks from it). It
        # must not block: it runs on the ingest and housekeeping threads.
        self.on_open: Callable[[dict[str, Any]], None] | None = None

    def record(self, meter_id: str, findings: Iterable[Finding]) -> list[tuple[dict[str, Any], bool]]:
        """Record findings (one write for all); returns (alert, created) for each distinct cause
        that changed something."""
        counts: Counter[tuple[str, str]] = Counter()
        latest: dict[tuple[str, str], Finding] = {}
        for finding in findings:
            counts[(finding.tipo, finding.chave)] += 1
            latest[(finding.tipo, finding.chave)] = finding
        if not counts:
            return []
        stamp = now_iso()
        with self._lock:
            if self._shared:
                # Several servers: what is stored decides, read and written under the documents'
                # lock, so a cause found by two servers at once opens one alert.
                def shared_change(tables: Tables) -> tuple[list, list, set[str]]:
                    updated, changes = _apply(meter_id, tables.matching(ALERTS, "medidor", meter_id), counts, latest, stamp)
                    dropped = _over_the_bound(updated) if changes else set()
                    _write(tables, changes, dropped)
                    return updated, changes, dropped

                updated, changes, dropped = atomic(self._docs, shared_change)
                if not changes:
                    return []
            else:
                updated, changes = _apply(meter_id, self._by_meter.get(meter_id, []), counts, latest, stamp)
                if not changes:
                    return []
                dropped = _over_the_bound(updated)
                atomic(self._docs, lambda tables: _write(tables, changes, dropped))
            kept = [a for a in updated if a["id"] not in dropped]
            self._by_meter[meter_id] = kept
            if _open_silence(kept):
                self._silent.add(meter_id)
        for alert, created in changes:
            if created:
                log.info("alerta %s para %s: %s", alert["tipo"], meter_id, alert["mensagem"])
                self._tell_open(alert)
        return [(dict(a), created) for a, created in changes]

    def _tell_open(self, alert: dict[str, Any]) -> None:
        if self.on_open is None:
            return
        try:
            self.on_open(dict(alert))
        except Exception:  # the alert is stored: a failing notifier only goes to the log
            log.exception("alerta %s de %s gravado, mas o aviso dele falhou", alert["tipo"], alert["medidor"])

    def raise_from_agent(self, meter_id: str, body: Any) -> tuple[dict[str, Any], bool]:
        """An agent's report: the alert and whether it is new (False: a repeat was counted)."""
        # Agent kinds recur, so recording one always opens an alert or counts a repeat.
        return self.record(meter_id, [agent_finding(body)])[0]

    def after_ingest(self, meter: Meter, resets: Sequence[Reading], accepted: int, now_ms: int) -> None:
        if accepted and meter.id in self._silent:
            self._resolve_silence(meter.id)
        findings = [reset_finding(r.ts_ms, self._value_before(meter, r), r.energia_wh, meter.tz)
                    for r in resets] if resets else []
        if accepted:
            checked = self._month_checked.get(meter.id)
            now = time.monotonic()
            if checked is None or now - checked >= MONTH_CHECK_S:
                self._month_checked[meter.id] = now
                self._month_skipped.discard(meter.id)
                findings += self.month_findings(meter, now_ms)
            else:
                self._month_skipped.add(meter.id)
        if findings:
            self.record(meter.id, findings)

    def check_skipped_months(self, meters: Iterable[Meter], now_ms: int) -> None:
        """The month checks ingest skipped (MONTH_CHECK_S), for the housekeeping thread."""
        for meter in meters:
            if meter.id in self._month_skipped:
                self._month_skipped.discard(meter.id)
                self._month_checked[meter.id] = time.monotonic()
                self.check_month(meter, now_ms)

    def _value_before(self, meter: Meter, reading: Reading) -> float:
        # Resets are rare, so a bounded look back (a day of 10-s readings) is cheap enough here.
        rows = self._readings.readings(meter.stream, reading.ts_ms - RESET_LOOKBACK_MS, reading.ts_ms,
                                       limit=RESET_LOOKBACK_ROWS)
        return rows[-1][0].energia_wh if rows else 0.0

    def month_findings(self, meter: Meter, now_ms: int) -> list[Finding]:
        if meter.limite_alerta_kwh is None or not consumes(meter):
            return []  # production, export and m³ are not consumption: no limit to watch
        window = self._consumption.current_month(meter, now_ms)
        if self._month_done.get(meter.id) == window.key:
            return []  # this month's limit alert exists: nothing more to find this month
        kwh, window = self._consumption.month_kwh_now(meter, now_ms)
        findings = evaluate_month(meter.limite_alerta_kwh, kwh, now_ms, window.start_ms, window.end_ms,
                                  meter.tz, (window.year, window.month))
        if findings and findings[0].chave == f"limite:{window.key}":
            self._month_done[meter.id] = window.key
        return findings

    def check_month(self, meter: Meter, now_ms: int) -> None:
        self.record(meter.id, self.month_findings(meter, now_ms))

    def check_silence(self, meters: Iterable[Meter], now_ms: int) -> None:
        """A `silencio` alert for each active meter whose readings stopped arriving for its
        `silencio_s`; one per silence (a meter with one open gets no other). On shared
        documents, the open silences are read as stored: one that another server raised is not
        raised again, and one whose meter spoke to another server since is resolved here."""
        arrivals = self._readings.arrivals()
        silences = self._open_silences() if self._shared else None
        for meter in meters:
            if meter.estado != "ativo":
                continue
            arrived = arrivals.get(meter.stream)
            if silences is not None and meter.id in silences:
                if arrived is not None and arrived > silences[meter.id]:
                    self._resolve_silence(meter.id)
                continue
            if meter.id in self._silent:
                continue
            since = arrived
            if since is None:
                last = self._readings.last(meter.stream)
                if last is None:
                    continue  # never sent anything: nothing has stopped
                since = last.ts_ms
            finding = evaluate_silence(since, now_ms, meter.silencio_s * 1000, self._started_ms)
            if finding is not None and self._readings.arrivals().get(meter.stream, since) <= since:  # nothing arrived meanwhile
                self.record(meter.id, [finding])

    def _open_silences(self) -> dict[str, int]:
        """Shared documents: meter id → the instant its open silence alert counts from, as
        stored now (raised or closed through any server); also what ingest resolves here."""
        found = {}
        for alert in self._docs.matching(ALERTS, "reconhecido", False):
            if alert["tipo"] == SILENCIO:
                start = alert["chave"].partition(":")[2]
                found[alert["medidor"]] = int(start) if start.isdigit() else 0
        with self._lock:
            self._silent = set(found)
        return found

    def _resolve_silence(self, meter_id: str) -> None:
        """The meter spoke: its open silence alerts close themselves (`resolvido_em`)."""
        stamp = now_iso()

        def close(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
            closed = []
            for i, alert in enumerate(alerts):
                if alert["tipo"] == SILENCIO and not alert["reconhecido"]:
                    alerts[i] = {**alert, "reconhecido": True, "reconhecido_em": stamp, "resolvido_em": stamp}
                    closed.append(alerts[i])
            return closed

        def write(tables: Tables, closed: list[dict[str, Any]]) -> None:
            for alert in closed:
                tables.upsert(ALERTS, "id", alert)

        with self._lock:
            if self._shared:  # as stored now, under the documents' lock: another server may close it too
                def shared_change(tables: Tables) -> list[dict[str, Any]]:
                    alerts = self._by_meter[meter_id] = _normalised(tables.matching(ALERTS, "medidor", meter_id))
                    closed = close(alerts)
                    write(tables, closed)
                    return closed

                closed = atomic(self._docs, shared_change)
            else:
                closed = close(self._by_meter.get(meter_id, []))
                if closed:
                    atomic(self._docs, lambda tables: write(tables, closed))
            self._silent.discard(meter_id)
        for alert in closed:
            log.info("alerta %s de %s resolvido: o medidor voltou a enviar leituras", alert["tipo"], meter_id)

    def _current(self, meter_id: str) -> list[dict[str, Any]]:
        """The meter's alerts (under self._lock): as stored now, when other servers share them."""
        if self._shared:
            self._by_meter[meter_id] = _normalised(self._docs.matching(ALERTS, "medidor", meter_id))
        return self._by_meter.get(meter_id, [])

    def list(self, meter_id: str) -> list[dict[str, Any]]:
        """Newest first."""
        with self._lock:
            self._current(meter_id)
            return [dict(a) for a in reversed(self._by_meter.get(meter_id, []))]

    def active(self, meter_id: str) -> list[dict[str, Any]]:
        return [a for a in self.list(meter_id) if not a["reconhecido"]]

    def count_active(self, meter_id: str) -> int:
        with self._lock:
            return sum(1 for a in self._current(meter_id) if not a["reconhecido"])

    def acknowledge(self, meter_id: str, alert_id: str) -> dict[str, Any]:
        with self._lock:
            alerts = self._current(meter_id)
            for i, alert in enumerate(alerts):
                if alert["id"] == alert_id:
                    if not alert["reconhecido"]:
                        alert = {**alert, "reconhecido": True, "reconhecido_em": now_iso()}
                        atomic(self._docs, lambda tables: tables.upsert(ALERTS, "id", alert))
                        alerts[i] = alert
                        if not _open_silence(alerts):
                            self._silent.discard(meter_id)
                    return dict(alert)
        raise NotFound(f"alerta {alert_id} não existe no medidor {meter_id}")

    # -- deletion ------------------------------------------------------------------------------

    @staticmethod
    def remove_rows(tables: Tables, meter_id: str) -> None:
        tables.remove(ALERTS, "medidor", meter_id)

    def forget(self, meter_id: str) -> None:
        with self._lock:
            self._by_meter.pop(meter_id, None)
            self._month_done.pop(meter_id, None)
            self._month_checked.pop(meter_id, None)
            self._month_skipped.discard(meter_id)
            self._silent.discard(meter_id)


def _apply(meter_id: str, alerts: list[dict[str, Any]], counts: Counter, latest: dict[tuple[str, str], Finding],
           stamp: str) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], bool]]]:
    """A meter's alerts after the findings, and each (alert, created) that changed."""
    updated = list(alerts)
    changes: list[tuple[dict[str, Any], bool]] = []
    for cause, n in counts.items():
        finding = latest[cause]
        index = next((i for i in range(len(updated) - 1, -1, -1)
                      if (updated[i]["tipo"], updated[i]["chave"]) == cause), None)
        current = updated[index] if index is not None else None
        if current is not None and (finding.tipo not in RECURRING or not current["reconhecido"]):
            if finding.tipo not in RECURRING:
                continue  # a one-moment finding seen again
            updated[index] = {**current, "ocorrencias": current["ocorrencias"] + n,
                              "ultima_em": stamp, "mensagem": finding.mensagem}
            changes.append((updated[index], False))
            continue
        alert = {"id": uuid.uuid4().hex[:12], "medidor": meter_id, "tipo": finding.tipo, "chave": finding.chave, "mensagem": finding.mensagem, "criado_em": stamp,
                 "reconhecido": False, "reconhecido_em": None, "ocorrencias": n, "ultima_em": stamp}
        updated.append(alert)
        changes.append((alert, True))
    return updated, changes


def _write(tables: Tables, changes: list[tuple[dict[str, Any], bool]], dropped: set[str]) -> None:
    for alert_id in dropped:
        tables.remove(ALERTS, "id", alert_id)
    for alert, _ in changes:
        if alert["id"] not in dropped:
            tables.upsert(ALERTS, "id", alert)


def _normalised(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored alerts, with the fields that alerts written before them lack."""
    for doc in alerts:
        doc.setdefault("ocorrencias", 1)
        doc.setdefault("ultima_em", doc["criado_em"])
    return alerts


def _open_silence(alerts: Iterable[dict[str, Any]]) -> bool:
    return any(a["tipo"] == SILENCIO and not a["reconhecido"] for a in alerts)


def _over_the_bound(alerts: list[dict[str, Any]]) -> set[str]:
    """Ids to drop so that at most MAX_KEPT_PER_METER remain: oldest acknowledged, then oldest."""
    excess = len(alerts) - MAX_KEPT_PER_METER
    if excess <= 0:
        return set()
    order = [a for a in alerts if a["reconhecido"]] + [a for a in alerts if not a["reconhecido"]]
    return {a["id"] for a in order[:excess]}
