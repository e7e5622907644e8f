"""The sending thread: registers or updates the meter, then drains the spool to the server.

Batches of up to MAX_BATCH readings, oldest first; a batch leaves the spool only once the
server has answered 200 for it (accepted and duplicates alike: a duplicate is already stored).
Without an answer the same batch is sent again after a capped, jittered backoff, which is safe
because the server stores each seq once.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from shared.backoff import Backoff
from shared.contract import EDITABLE, MAX_BATCH
from medidor.server_api import IngestAnswer, MeterApi, MeterKeys, Refused, RemoteCommand, ServerError, Unreachable
from medidor.spool import Spool, SpoolDamaged
from medidor.status import StatusBoard

log = logging.getLogger("medidor.envio")

# With nothing to send the thread sleeps this long unless woken by a new reading.
IDLE_WAIT_S = 1.0
# After a stop request, pending readings are still sent for this long if the server answers;
# what is left stays in the spool for the next run.
FLUSH_ON_STOP_S = 5.0
# Retry delays: the first retry after ~0.5 s, then doubling up to 30 s. An outage of minutes is
# noticed within 30 s of its end; a cut-off fleet does not come back in lockstep.
RETRY_BASE_S = 0.5
RETRY_CAP_S = 30.0
# While the agent is paused it sends no readings, so no ingest answer brings commands (such as
# `retomar`): it asks for them this often instead.
COMMAND_POLL_S = 2.0
# Alerts waiting to be raised on the server; more are dropped (the newest kept): they repeat.
MAX_PENDING_ALERTS = 20
# Rejected readings logged one by one per batch; beyond this only the count.
MAX_REJECTED_LOGGED = 5


@dataclass(frozen=True, slots=True)
class MeterFields:
    """What the agent owns of its meter's record on the server."""

    nome: str
    categoria: str
    fuso: str
    limite_alerta_kwh: float
    multiplicador: float
    # The server raises "silêncio" after this long without readings; it must exceed the interval.
    silencio_min_s: int = 60
    site: str | None = None  # None: the agent leaves the meter's site alone
    # A pulse counter's blinks per kWh: the server's blipserver routes turn blinks into W and Wh.
    pulsos_por_kwh: float | None = None
    # The control port's HOST:PORTA (medidor --porta-controle); None: the agent opened none.
    controle: str | None = None
    local: str | None = None  # Tesla Analyzer's <node location>

    def for_register(self) -> dict[str, Any]:
        body = {"nome": self.nome, "categoria": self.categoria, "fuso": self.fuso,
                "limite_alerta_kwh": self.limite_alerta_kwh, "multiplicador": self.multiplicador,
                "silencio_s": max(self.silencio_min_s, 15 * 60)}
        if self.site is not None:
            body["site"] = self.site
        if self.pulsos_por_kwh is not None:
            body["pulsos_por_kwh"] = self.pulsos_por_kwh
        if self.controle is not None:
            body["controle"] = self.controle
        if self.local is not None:
            body["local"] = self.local
        return body

    def merged_with(self, current: dict[str, Any]) -> dict[str, Any]:
        """The whole PUT body: a PUT resets every editable field it leaves out, so the server's
        current values go along for the fields the agent does not own (tarifa, estado)."""
        out = {k: current[k] for k in EDITABLE if k in current and current[k] is not None}
        out.update(nome=self.nome, categoria=self.categoria, fuso=self.fuso,
                   limite_alerta_kwh=self.limite_alerta_kwh, multiplicador=self.multiplicador)
        out["silencio_s"] = max(int(current.get("silencio_s") or 0), self.silencio_min_s)
        if self.site is not None:
            out["site"] = self.site
        if self.pulsos_por_kwh is not None:
            out["pulsos_por_kwh"] = self.pulsos_por_kwh
        out["controle"] = self.controle
        if self.local is not None:  # set by config.xml; a meter placed by hand keeps its own
            out["local"] = self.local
        return out


class KeyStore:
    """Where the sender finds and keeps the meter's keys (the agent's state file)."""

    def __init__(self, get_write_key: Callable[[], str | None], save: Callable[[MeterKeys], None]) -> None:
        self.get_write_key = get_write_key
        self.save = save


class Sender:
    """Owns one thread and one HTTP connection; `start`, then `stop` + `join`."""

    def __init__(self, *, api: MeterApi, spool: Spool, keys: KeyStore, fields: Callable[[], MeterFields],
                 registration_key: str | None, status: StatusBoard, state_hint: str,
                 on_commands: Callable[[tuple[RemoteCommand, ...]], None] = lambda _: None,
                 on_meter: Callable[[dict[str, Any]], None] = lambda _: None,
                 paused: Callable[[], bool] = lambda: False,
                 announce: Callable[[str], None] = lambda text: print(text, flush=True),
                 batch_size: int = MAX_BATCH, backoff: Backoff | None = None,
                 on_fatal: Callable[[BaseException], None] = lambda _: None) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1..{MAX_BATCH}")
        self._api = api
        self._spool = spool
        self._keys = keys
        self._fields = fields
        self._registration_key = registration_key
        self._status = status
        self._state_hint = state_hint
        self._on_commands = on_commands
        self._on_meter = on_meter
        self._paused = paused
        self._announce = announce
        self._on_fatal = on_fatal
        self._last_poll = 0.0
        self._batch_size = batch_size
        self._backoff = backoff or Backoff(RETRY_BASE_S, RETRY_CAP_S)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._alerts: deque[tuple[str, str, str]] = deque(maxlen=MAX_PENDING_ALERTS)
        self._alerts_lock = threading.Lock()
        self._updated = False
        self._fields_dirty = False
        self._last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"envio-{api.meter_id}", daemon=True)
        self.acked_total = 0
        self.requests = 0

    # -- control (any thread) -------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """New readings are in the spool: send now rather than after the idle wait."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def raise_alert(self, tipo: str, mensagem: str, chave: str) -> None:
        """Queue an alert for the server (`falha_dispositivo`, `spool_cheio`)."""
        with self._alerts_lock:
            self._alerts.append((tipo, mensagem, chave))
        self._wake.set()

    def fields_changed(self) -> None:
        """The agent's multiplier or limit changed locally: update the meter on the server."""
        self._fields_dirty = True
        self._wake.set()

    # -- the thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        flush_deadline: float | None = None
        try:
            while True:
                if self._stopping.is_set():
                    if flush_deadline is None:
                        flush_deadline = time.monotonic() + FLUSH_ON_STOP_S
                    if self._spool.pending == 0 or time.monotonic() >= flush_deadline or self._last_error:
                        return
                try:
                    sent = self._step()
                except Unreachable as exc:
                    self._failed(f"sem resposta ({exc})", level=logging.WARNING)
                    continue
                except Refused as exc:
                    self._failed(f"recusado: {exc}", level=logging.ERROR)
                    continue
                except SpoolDamaged as exc:
                    # Skipping the damaged bytes would lose readings silently and sending past
                    # them is impossible: the agent stops, and the next start says how to repair.
                    log.error("%s: %s", self._api.meter_id, exc)
                    self._status.update(servidor="spool danificado: o agente vai parar")
                    self._on_fatal(exc)
                    return
                except Exception as exc:
                    # A bug or a disk error (the spool's ack) must not end sending for good:
                    # the readings stay in the spool and the step is tried again later.
                    log.exception("%s: erro inesperado no envio; as leituras continuam no spool", self._api.meter_id)
                    self._failed(f"erro interno no envio ({exc.__class__.__name__}; veja o log)", level=logging.DEBUG)
                    continue
                if self._last_error is not None:
                    log.info("%s: servidor respondendo de novo", self._api.meter_id)
                self._last_error = None
                self._backoff.reset()
                if not sent and not self._stopping.is_set():
                    self._wake.wait(IDLE_WAIT_S)
                    self._wake.clear()
        finally:
            self._api.close()

    def _failed(self, text: str, *, level: int) -> None:
        if self._stopping.is_set():
            self._last_error = text
            return
        delay = self._backoff.next_delay()
        if text != self._last_error:
            # Logged once per distinct failure, not on every retry of a long outage.
            log.log(level, "%s: %s", self._api.meter_id, text)
        self._last_error = text
        self._status.update(servidor=f"{_short(text)}; nova tentativa em {delay:.0f} s")
        # Only a stop cuts the wait short: new readings arrive every interval (thousands a
        # second in a backfill) and must not turn the backoff into hammering a dead server.
        self._stopping.wait(delay)

    def _step(self) -> bool:
        """One unit of work; returns whether it sent anything."""
        write_key = self._keys.get_write_key()
        if not write_key:
            write_key = self._register()
        if not self._updated or self._fields_dirty:
            self._fields_dirty = False
            try:
                self._update(write_key)
            except ServerError:
                self._fields_dirty = True  # the change still has to reach the server
                raise
        self._send_alerts(write_key)
        batch = self._spool.peek(self._batch_size)
        if not batch:
            self._status.update(servidor="conectado")
            if self._paused() and time.monotonic() - self._last_poll >= COMMAND_POLL_S:
                self._last_poll = time.monotonic()
                commands = self._api.pending_commands(write_key)
                if commands:
                    self._on_commands(commands)
            return False
        try:
            answer = self._api.post_readings(write_key, [r.payload for r in batch])
        except Refused as exc:
            if exc.code != "leitura_invalida":
                raise self._explain(exc) from None
            # Every reading of the batch is invalid and always will be: drop them, loudly.
            log.error("%s: %d leituras recusadas e descartadas (seq %d–%d): %s", self._api.meter_id,
                      len(batch), batch[0].seq, batch[-1].seq, exc)
            answer = IngestAnswer(0, 0, None)
        self.requests += 1
        self._log_rejected(answer)
        self._spool.ack_through(batch[-1].seq)
        self.acked_total += len(batch)
        self._status.update(servidor="conectado", ultimo_ack=time.time(), enviadas=self.acked_total,
                            pendentes=self._spool.pending, spool_pct=100 * self._spool.fill_ratio)
        if answer.comandos:
            self._on_commands(answer.comandos)
        return True

    def _register(self) -> str:
        if not self._registration_key:
            raise Refused("medidor ainda não registrado e sem chave de registro: use --chave-registro "
                          "ou MONITOR_CHAVE_REGISTRO (a mesma do servidor)")
        fields = self._fields()
        try:
            keys = self._api.register(self._registration_key, fields.for_register())
        except Refused as exc:
            if exc.status in (401, 403):
                raise Refused("a chave de registro foi recusada pelo servidor: confira --chave-registro ou "
                              "MONITOR_CHAVE_REGISTRO", exc.status, exc.code) from None
            if exc.status == 409:
                raise Refused(f"o medidor {self._api.meter_id} já existe no servidor, mas {self._state_hint} não tem "
                              "a chave dele: restaure esse arquivo, use outro --id, ou peça ao administrador "
                              "que apague o medidor", exc.status, exc.code) from None
            raise
        self._keys.save(keys)
        self._updated = True
        log.info("%s: medidor registrado em %s; chaves guardadas em %s", self._api.meter_id, self._api.base_url,
                 self._state_hint)
        # Never the key itself: this line ends up in logs (journald, docker logs, lector.ini's
        # log_dir) that people paste into bug reports. The file is the agent user's alone (0600).
        self._announce(f"medidor {self._api.meter_id} registrado. A chave de leitura (para o app) está em "
                       f"{self._state_hint}, campo chave_leitura")
        return keys.chave_escrita

    def _update(self, write_key: str) -> None:
        try:
            current = self._api.get_meter(write_key)
            view = self._api.put_meter(write_key, self._fields().merged_with(current))
        except Refused as exc:
            raise self._explain(exc) from None
        self._updated = True
        self._on_meter(view)

    def _explain(self, exc: Refused) -> Refused:
        if exc.status == 404:
            return Refused(f"o medidor {self._api.meter_id} não existe no servidor (apagado?). Para registrá-lo de "
                           f"novo, pare o agente e apague {self._state_hint}; as leituras do spool serão enviadas "
                           "depois", exc.status, exc.code)
        if exc.status in (401, 403):
            return Refused(f"a chave de escrita em {self._state_hint} foi recusada: o administrador trocou as "
                           "chaves? Passe a nova com --chave-escrita. O medidor foi apagado e recriado? Apague "
                           "esse arquivo para registrar de novo", exc.status, exc.code)
        return exc

    def _send_alerts(self, write_key: str) -> None:
        while True:
            with self._alerts_lock:
                if not self._alerts:
                    return
                tipo, mensagem, chave = self._alerts[0]
            try:
                self._api.raise_alert(write_key, tipo, mensagem, chave)
            except Refused as exc:
                log.error("%s: alerta %s recusado pelo servidor: %s", self._api.meter_id, tipo, exc)
            with self._alerts_lock:
                if self._alerts and self._alerts[0] == (tipo, mensagem, chave):
                    self._alerts.popleft()

    def _log_rejected(self, answer: IngestAnswer) -> None:
        for item in answer.rejeitadas[:MAX_REJECTED_LOGGED]:
            log.error("%s: leitura seq %s recusada pelo servidor e descartada: %s", self._api.meter_id,
                      item.get("seq"), item.get("motivo"))
        extra = len(answer.rejeitadas) - MAX_REJECTED_LOGGED
        if extra > 0:
            log.error("%s: mais %d leituras recusadas e descartadas", self._api.meter_id, extra)


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
