"""The agent: measure every interval, number and spool each reading, let the sender drain it.

Threads: the caller's thread runs the measuring loop (`run`); the agent owns one sender thread,
started and joined inside `run`. Other threads (keyboard, signal handlers) only call the
control methods (`toggle_pause`, `scale_multiplier`, `apply_commands`) and set `stop`.
"""
from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable
from zoneinfo import ZoneInfo

from shared.models import InvalidReading, Reading, parse_timestamp_ms
from shared.backoff import Backoff
from medidor.config import AgentConfig
from medidor.device_source import SourceError
from medidor.month import MonthState, MonthTracker
from medidor.profiles import make_profile
from medidor.recording import WindowAverager
from medidor.sender import KeyStore, MeterFields, Sender
from medidor.server_api import REQUEST_TIMEOUT_S, MeterApi, MeterKeys, RemoteCommand, reading_payload
from medidor.simulated_source import SimClock, SimulatedMeter, real_now_ms
from medidor.sources import Measurement, Source
from medidor.spool import WARN_RATIO, Spool, SpoolRecord
from medidor.state import AgentState, StateError, StateFile
from medidor.status import StatusBoard

log = logging.getLogger("medidor")

# Readings made per loop turn while simulated time runs ahead (history, catch-up): one spool
# append, so one fsync, each; small enough to notice a stop and refresh the status in between.
CHUNK = 2000
# The loop wakes at least this often to notice a stop request and refresh the status.
TICK_S = 0.5
# Consecutive failed device reads before `falha_dispositivo` is raised on the server: a bus
# glitch fails one or two reads; five in a row (≥ 15 s with the retry backoff) is a device that
# is off, unplugged or misconfigured.
DEVICE_ALERT_AFTER = 5
# Device retries: 1 s, 2 s, … up to a minute, so an unplugged meter is polled gently.
DEVICE_RETRY_BASE_S = 1.0
DEVICE_RETRY_CAP_S = 60.0
# Seqs are reserved in the state file this many at a time, before use. The spool is the
# authority on the last seq; if it is lost, the agent resumes above the reservation, so no new
# reading reuses a seq the server already has (it would be answered "duplicate" and dropped).
# 100,000 is 11 days of 10-s readings: a state write every 11 days, or per ~4 s of a backfill.
SEQ_RESERVE = 100_000
# The state is saved this often (month base, keys are saved when they change).
STATE_SAVE_EVERY_S = 30.0
# A spool below this fill ratio re-arms the "near full" warning.
_WARN_REARM_RATIO = WARN_RATIO / 2
# Command ids remembered to apply each once; the server keeps at most 50 pending per meter.
APPLIED_IDS_KEPT = 200
# Changes from the keyboard: one press raises or lowers consumption by this factor.
KEY_STEP = 1.25


@dataclass(frozen=True, slots=True)
class LastReading:
    seq: int
    ts_ms: int
    energia_wh: float


def last_reading(payload: bytes | None) -> LastReading | None:
    """The newest spooled reading, where a restarted agent resumes its counter and clock."""
    if payload is None:
        return None
    try:
        doc = json.loads(payload)
        return LastReading(int(doc["seq"]), parse_timestamp_ms(doc["ts"]), float(doc["energia_wh"]))
    except (ValueError, KeyError, TypeError, InvalidReading):
        log.warning("última leitura do spool ilegível; o contador recomeça")
        return None


class Agent:
    """One meter's agent. Build, then `run(stop)` in a thread of your choice until `stop` is set."""

    def __init__(self, config: AgentConfig, *, on_message: Callable[[str], None] | None = None,
                 real_ms: Callable[[], int] = real_now_ms, device_backoff: Backoff | None = None,
                 server_backoff: Backoff | None = None) -> None:
        self.config = config
        self.tz = ZoneInfo(config.fuso)
        self.status = StatusBoard(config.medidor, fuso=self.tz, multiplicador=config.multiplicador)
        self.state_file = StateFile(config.estado)
        self._message = on_message or (lambda text: print(text, flush=True))
        self._real_ms = real_ms
        self._device_backoff = device_backoff or Backoff(DEVICE_RETRY_BASE_S, DEVICE_RETRY_CAP_S)
        self._server_backoff = server_backoff  # None: the sender's default policy
        self._lock = threading.Lock()
        self._paused = False
        self._multiplier = config.multiplicador
        self._limit = config.limite_alerta_kwh
        self._source: Source | None = None
        self._applied: deque[str] = deque(maxlen=APPLIED_IDS_KEPT)
        self._sender: Sender | None = None
        self._tracker: MonthTracker | None = None
        self._state: AgentState | None = None
        self.next_seq = 0
        # Seqs below this are reserved in the state file (see SEQ_RESERVE).
        self._reserved = 0
        self.spool: Spool | None = None
        self._averager = WindowAverager(config.gravacao_min, self.tz) if config.gravacao_min else None

    # -- control (any thread) -------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def multiplier(self) -> float:
        return self._multiplier

    def set_paused(self, paused: bool, why: str) -> None:
        with self._lock:
            if paused == self._paused:
                return
            self._paused = paused
        self.status.update(pausado=paused)
        self._message(f"{self.config.medidor}: {'pausado' if paused else 'medindo de novo'} ({why})")

    def toggle_pause(self) -> None:
        self.set_paused(not self._paused, "teclado")

    def scale_multiplier(self, factor: float) -> None:
        """Keyboard + / -: consumption up or down by `factor`; the server is told."""
        self.set_multiplier(round(self._multiplier * factor, 4), "teclado")
        if self._sender is not None:
            self._sender.fields_changed()

    def set_multiplier(self, value: float, why: str) -> None:
        with self._lock:
            self._multiplier = value
            if self._source is not None:
                self._source.set_multiplier(value)
        self.status.update(multiplicador=value)
        self._message(f"{self.config.medidor}: multiplicador {value:g} ({why})")

    def set_limit(self, value: float, why: str) -> None:
        with self._lock:
            self._limit = value
            if self._tracker is not None:
                self._tracker.set_limit(value)
        self._message(f"{self.config.medidor}: limite de alerta {value:g} kWh/mês ({why})")

    def apply_commands(self, commands: tuple[RemoteCommand, ...]) -> None:
        """The server's remote commands, in the order they were queued; each id applied once
        (a command seen while polling comes again in the next ingest answer)."""
        for command in commands:
            if command.id:
                if command.id in self._applied:
                    continue
                self._applied.append(command.id)
            if command.comando == "pausar":
                self.set_paused(True, "comando do servidor")
            elif command.comando == "retomar":
                self.set_paused(False, "comando do servidor")
            elif command.comando == "multiplicador" and command.valor:
                self.set_multiplier(command.valor, "comando do servidor")
            elif command.comando == "limite" and command.valor:
                self.set_limit(command.valor, "comando do servidor")
            else:
                log.warning("%s: comando desconhecido ignorado: %s", self.config.medidor, command)

    # -- setup ----------------------------------------------------------------------------------

    def _load_state(self) -> AgentState:
        state = self.state_file.load()
        if state is None:
            return AgentState(self.config.medidor, self.config.servidor)
        if state.medidor != self.config.medidor:
            raise StateError(f"{self.state_file.path} pertence ao medidor {state.medidor}, não a "
                             f"{self.config.medidor}: use outro --estado")
        if state.servidor != self.config.servidor:
            log.info("%s: servidor mudou de %s para %s", self.config.medidor, state.servidor, self.config.servidor)
            state = state.but(servidor=self.config.servidor)
        return state

    def _save_state(self, **changes: object) -> None:
        with self._lock:
            assert self._state is not None
            tracker = self._tracker
            if tracker is not None:
                changes.setdefault("mes", tracker.state.mes)
                changes.setdefault("inicio_mes_wh", tracker.state.inicio_wh)
                changes.setdefault("alerta_mes", tracker.state.alertado)
            self._state = self._state.but(proximo_seq=self._reserved, **changes)
            # Written under the lock: the sender thread (keys) and the measuring thread
            # (reservations, month) both save, and an older state must never land last.
            self.state_file.save(self._state)

    def _save_keys(self, keys: MeterKeys) -> None:
        self._save_state(chave_escrita=keys.chave_escrita, chave_leitura=keys.chave_leitura)

    def _write_key(self) -> str | None:
        return None if self._state is None else self._state.chave_escrita

    def meter_fields(self) -> MeterFields:
        cfg = self.config
        categoria = cfg.categoria or (make_profile(cfg.perfil, cfg.semente).categoria if cfg.simulated else "gridImport")
        # The server's silence alert must not fire between two regular readings.
        quiet_s = max(60, math.ceil(3 * max(cfg.intervalo_s, cfg.gravacao_min * 60)))
        return MeterFields(cfg.nome or cfg.medidor, categoria, cfg.fuso, self._limit, self._multiplier, quiet_s)

    def _on_meter(self, view: dict) -> None:
        if view.get("estado") == "pausado":
            self.set_paused(True, "o servidor marca o medidor como pausado")

    def _open_source(self, last: LastReading | None) -> tuple[Source, SimClock, int]:
        """The source, the clock the readings follow, and the first instant to measure."""
        cfg = self.config
        iv = self.interval_ms
        now = self._real_ms()
        if not cfg.simulated:
            from medidor.device_source import DeviceSource

            source: Source = DeviceSource(cfg, start_wh=None if last is None else last.energia_wh)
            return source, SimClock(now, 1.0, real_ms=self._real_ms), _align_up(now, iv)
        profile = make_profile(cfg.perfil, cfg.semente, cfg.fuso)
        # History plays as fast as readings can be made unless --acelerar says how fast.
        speed = cfg.acelerar if cfg.acelerar is not None else (None if cfg.historico_dias > 0 else 1.0)
        if last is None:
            start = _align_up(now - int(cfg.historico_dias * 86_400_000), iv)
            meter = SimulatedMeter(profile, start_ms=start - iv, multiplier=self._multiplier)
            return meter, SimClock(start, speed, real_ms=self._real_ms), start
        meter = SimulatedMeter(profile, start_ms=last.ts_ms, start_wh=last.energia_wh, multiplier=self._multiplier)
        if cfg.replay:
            # Fill the time the agent was stopped, at the replay speed.
            return meter, SimClock(last.ts_ms, speed, real_ms=self._real_ms), last.ts_ms + iv
        # Real time: the counter takes the energy of the gap in its next reading, as a real meter's would.
        return meter, SimClock(now, 1.0, real_ms=self._real_ms), max(_align_up(now, iv), last.ts_ms + iv)

    @property
    def interval_ms(self) -> int:
        return max(1, round(self.config.intervalo_s * 1000))

    # -- the loop -------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Measure until `stop` is set. Raises StateError/SpoolError if the state directory is unusable."""
        cfg = self.config
        self._state = self._load_state()
        spool = Spool(cfg.estado / "spool", max_records=cfg.max_spool)
        self.spool = spool
        try:
            last = last_reading(spool.last_payload)
            # The spool knows the last seq used (even once everything is acknowledged); without a
            # spool (deleted, a new disk) the state's reservation is past any seq used before.
            self.next_seq = self._state.proximo_seq if spool.last_seq is None else spool.last_seq + 1
            self._reserved = max(self._state.proximo_seq, self.next_seq)
            self._tracker = MonthTracker(self.tz, self._limit, MonthState(
                self._state.mes, self._state.inicio_mes_wh, self._state.alerta_mes))
            source, clock, next_due = self._open_source(last)
            with self._lock:
                self._source = source
            self.status.update(fonte=source.description, seq=None if last is None else last.seq,
                               pendentes=spool.pending, spool_pct=100 * spool.fill_ratio)
            api = MeterApi(cfg.servidor, cfg.medidor)
            sender = Sender(api=api, spool=spool, keys=KeyStore(self._write_key, self._save_keys),
                            fields=self.meter_fields, registration_key=cfg.chave_registro, status=self.status,
                            state_hint=str(self.state_file.path), on_commands=self.apply_commands,
                            on_meter=self._on_meter, paused=lambda: self._paused, announce=self._message,
                            backoff=self._server_backoff)
            self._sender = sender
            self._save_state()
            sender.start()
            log.info("%s: medindo (%s) a cada %g s; estado em %s; próximo seq %d", cfg.medidor,
                     source.description, cfg.intervalo_s, cfg.estado, self.next_seq)
            try:
                self._loop(stop, source, clock, next_due, spool, sender)
            finally:
                sender.stop()
                sender.join(REQUEST_TIMEOUT_S + 10)
                if sender.is_alive():
                    log.error("%s: o envio não terminou a tempo; o que falta segue no spool", cfg.medidor)
                source.close()
                self._save_state()
                log.info("%s: parado no seq %d; %d leituras esperam no spool", cfg.medidor, self.next_seq - 1,
                         spool.pending)
        finally:
            spool.close()

    def _loop(self, stop: threading.Event, source: Source, clock: SimClock, next_due: int, spool: Spool,
              sender: Sender) -> None:
        iv = self.interval_ms
        device_backoff = self._device_backoff
        device_failures = 0
        retry_at = 0.0
        warned_full = False
        warned_near = False
        disk_error = False
        last_save = time.monotonic()
        while not stop.is_set():
            if time.monotonic() - last_save >= STATE_SAVE_EVERY_S:
                last_save = time.monotonic()
                try:
                    self._save_state()
                except OSError as exc:
                    log.error("%s: não foi possível gravar %s: %s", self.config.medidor, self.state_file.path, exc)
            now = clock.now_ms()
            self.status.update(pendentes=spool.pending, spool_pct=100 * spool.fill_ratio,
                               tempo_simulado_ms=None if clock.caught_up else now)
            warned_near = self._check_spool(spool, sender, warned_near)
            if self._paused:
                if next_due <= now:
                    next_due = _align_up(now + 1, iv)
                stop.wait(min(TICK_S, clock.delay_until(next_due)))
                continue
            if next_due > now or time.monotonic() < retry_at:
                wait = clock.delay_until(next_due) if next_due > now else retry_at - time.monotonic()
                stop.wait(min(TICK_S, max(wait, 0.0)))
                continue
            if source.replayable:
                count = min(CHUNK, (now - next_due) // iv + 1, spool.free)
                stamps = [next_due + i * iv for i in range(count)]
            else:
                # Hardware is read now; instants missed (a slow bus) cannot be read afterwards.
                count = min(1, spool.free)
                stamps = [now]
            if count == 0:
                if not warned_full:
                    self._message(f"{self.config.medidor}: SPOOL CHEIO ({spool.pending} leituras esperando o servidor): "
                                  + ("a simulação espera" if source.replayable else
                                     "leituras puladas; a energia continua no contador e aparece na próxima leitura"))
                    warned_full = True
                if not source.replayable:
                    next_due = _align_up(now + 1, iv)
                stop.wait(TICK_S)
                continue
            warned_full = False
            try:
                measurements = [source.measure(ts) for ts in stamps]
            except SourceError as exc:
                device_failures += 1
                delay = device_backoff.next_delay()
                retry_at = time.monotonic() + delay
                self.status.update(dispositivo=f"falha ({device_failures}×): {exc}; nova tentativa em {delay:.0f} s")
                if device_failures == 1:
                    log.warning("%s: leitura do dispositivo falhou: %s", self.config.medidor, exc)
                if device_failures == DEVICE_ALERT_AFTER:
                    text = f"{source.description}: {device_failures} leituras seguidas falharam ({exc})"
                    log.error("%s: %s", self.config.medidor, text)
                    sender.raise_alert("falha_dispositivo", text, source.description)
                continue
            if device_failures:
                log.info("%s: dispositivo respondendo de novo após %d falhas", self.config.medidor, device_failures)
                device_failures = 0
                device_backoff.reset()
            self.status.update(dispositivo="ok")
            next_due = stamps[-1] + iv if source.replayable else _align_up(now + 1, iv)
            self.status.update(potencia_w=measurements[-1].potencia_w)
            if self._averager is not None:
                measurements = [w for w in map(self._averager.add, measurements) if w is not None]
            if measurements:
                try:
                    self._record(measurements, spool)
                except OSError as exc:
                    # A full or failing disk: these readings never got a seq, and their energy is
                    # still in the counter of the next one. Nothing spooled before is touched.
                    if not disk_error:
                        self._message(f"{self.config.medidor}: ERRO ao gravar no disco ({exc}); leituras deste "
                                      "momento descartadas, o contador guarda a energia; tentando de novo")
                    disk_error = True
                    self.status.update(dispositivo=f"erro de disco: {exc.strerror or exc}")
                    stop.wait(TICK_S)
                    continue
                if disk_error:
                    self._message(f"{self.config.medidor}: gravação no disco voltou a funcionar")
                    disk_error = False
                sender.wake()

    def _record(self, measurements: list[Measurement], spool: Spool) -> None:
        """Number, spool (fsynced) and account the measurements."""
        records = []
        seq = self.next_seq
        tracker = self._tracker
        assert tracker is not None
        alerts = []
        for m in measurements:
            try:
                reading = Reading(seq, m.ts_ms, m.energia_wh, m.potencia_w, m.medidas, m.estimada)
            except InvalidReading as exc:
                log.error("%s: leitura descartada (%s): %s", self.config.medidor, exc, m)
                continue
            records.append(SpoolRecord(seq, reading_payload(reading.to_json(self.tz))))
            seq += 1
            with self._lock:
                alert = tracker.observe(m.ts_ms, m.energia_wh)
            if alert:
                alerts.append(alert)
        if not records:
            return
        if seq > self._reserved:
            # Reserve before use: a spool lost later restarts above every seq sent so far.
            self._reserved = seq + SEQ_RESERVE
            self._save_state()
        spool.append(records)
        self.next_seq = seq
        self.status.update(seq=seq - 1, pendentes=spool.pending, spool_pct=100 * spool.fill_ratio,
                           mes_kwh=tracker.kwh)
        for alert in alerts:
            self._message(f"{self.config.medidor}: {alert}")
        if alerts:
            try:
                self._save_state()  # so a restart does not show this month's alert again
            except OSError as exc:
                log.error("%s: não foi possível gravar %s: %s", self.config.medidor, self.state_file.path, exc)

    def _check_spool(self, spool: Spool, sender: Sender, warned: bool) -> bool:
        ratio = spool.fill_ratio
        if not warned and ratio >= WARN_RATIO:
            text = (f"spool {ratio:.0%} cheio: {spool.pending} de {spool.max_records} leituras esperando o servidor "
                    f"em {spool.directory}")
            self._message(f"{self.config.medidor}: ATENÇÃO: {text}")
            sender.raise_alert("spool_cheio", text, "spool")
            return True
        if warned and ratio < _WARN_REARM_RATIO:
            return False
        return warned


def _align_up(ts_ms: int, interval_ms: int) -> int:
    """The first multiple of `interval_ms` at or after `ts_ms`: readings on round instants."""
    return -(-ts_ms // interval_ms) * interval_ms
