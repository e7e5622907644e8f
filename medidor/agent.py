"""The agent: measure every interval, number and spool each reading, let the sender drain it.

Threads: the caller's thread runs the measuring loop (`run`); the agent owns one sender thread,
started and joined inside `run`. Other threads (keyboard, signal handlers) only use `controls`
and set `stop`.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from typing import Callable
from zoneinfo import ZoneInfo

from shared.backoff import Backoff
from shared.models import InvalidReading, Reading
from medidor.config import AgentConfig
from medidor.control import Controls
from medidor.device_source import SourceError
from medidor.exports import ExportQueue, open_exports
from medidor.month import MonthState, MonthTracker
from medidor.node_state import NodeState, apply_live_settings
from medidor.pacing import CHUNK, STATE_SAVE_EVERY_S, TICK_S
from medidor.profiles import make_profile
from medidor.push_loop import push_loop
from medidor.recording import WindowAverager
from medidor.resume import align_up, interval_ms, last_reading, open_source
from medidor.sender import KeyStore, MeterFields, Sender
from medidor.sequence import SeqNumbers
from medidor.server_api import REQUEST_TIMEOUT_S, MeterApi, MeterKeys, reading_payload
from medidor.simulated_source import SimClock, real_now_ms
from medidor.sources import Measurement, PushSource, Source
from medidor.spool import WARN_RATIO, Spool, SpoolRecord
from medidor.state import AgentState, StateError, StateFile
from medidor.status import StatusBoard

log = logging.getLogger("medidor")

# Consecutive failed device reads before `falha_dispositivo` is raised on the server: a bus
# glitch fails one or two reads; five in a row (≥ 15 s with the retry backoff) is a device that
# is off, unplugged or misconfigured.
DEVICE_ALERT_AFTER = 5
# Device retries: 1 s, 2 s, … up to a minute, so an unplugged meter is polled gently.
DEVICE_RETRY_BASE_S = 1.0
DEVICE_RETRY_CAP_S = 60.0
# A spool below this fill ratio re-arms the "near full" warning.
_WARN_REARM_RATIO = WARN_RATIO / 2


class Agent:
    """One meter's agent. Build, `open` (optional: `run` opens), then `run(stop)` in a thread of
    your choice until `stop` is set. `open` raises StateError/SpoolError (SpoolDamaged for a
    spool that needs `medidor reparar`)."""

    def __init__(self, config: AgentConfig, *, on_message: Callable[[str], None] | None = None,
                 real_ms: Callable[[], int] = real_now_ms, device_backoff: Backoff | None = None,
                 server_backoff: Backoff | None = None) -> None:
        self.config = config
        self.tz = ZoneInfo(config.fuso)
        self.status = StatusBoard(config.medidor, fuso=self.tz, multiplicador=config.multiplicador)
        self.state_file = StateFile(config.estado)
        self._message = on_message or (lambda text: print(text, flush=True))
        self.controls = Controls(config.medidor, multiplier=config.multiplicador, limit_kwh=config.limite_alerta_kwh,
                                 status=self.status, message=self._message)
        self._real_ms = real_ms
        self._device_backoff = device_backoff or Backoff(DEVICE_RETRY_BASE_S, DEVICE_RETRY_CAP_S)
        self._server_backoff = server_backoff  # None: the sender's default policy
        self._lock = threading.Lock()
        self._tracker: MonthTracker | None = None
        self._state: AgentState | None = None
        self._seq: SeqNumbers | None = None
        # Set by the sender when it cannot go on (a spool damaged under it): the loop ends.
        self._fatal: BaseException | None = None
        self.spool: Spool | None = None
        self._averager = WindowAverager(config.gravacao_min, self.tz) if config.gravacao_min else None
        # What the node's control port sees and asks (medidor/node_commands.py).
        self.node = NodeState()
        self.exports: list[ExportQueue] = []  # config.xml's <dataexport>s, open while running

    @property
    def next_seq(self) -> int:
        return 0 if self._seq is None else self._seq.next

    # -- state ----------------------------------------------------------------------------------

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
            assert self._state is not None and self._seq is not None
            tracker = self._tracker
            if tracker is not None:
                changes.setdefault("mes", tracker.state.mes)
                changes.setdefault("inicio_mes_wh", tracker.state.inicio_wh)
                changes.setdefault("alerta_mes", tracker.state.alertado)
            changes.setdefault("proximo_seq", self._seq.reserved)
            state = self._state.but(**changes)
            # Written under the lock: the sender thread (keys) and the measuring thread
            # (reservations, month) both save, and an older state must never land last.
            self.state_file.save(state)
            self._state = state

    def _save_keys(self, keys: MeterKeys) -> None:
        self._save_state(chave_escrita=keys.chave_escrita, chave_leitura=keys.chave_leitura)

    def _write_key(self) -> str | None:
        return None if self._state is None else self._state.chave_escrita

    def meter_fields(self) -> MeterFields:
        cfg = self.config
        categoria = cfg.categoria or (make_profile(cfg.perfil, cfg.semente).categoria if cfg.simulated else "gridImport")
        # The server's silence alert must not fire between two regular readings.
        quiet_s = max(60, math.ceil(3 * max(cfg.intervalo_s, cfg.gravacao_min * 60)))
        pulses = cfg.dispositivo.pulsos_por_kwh if cfg.fonte == "pulsos" else None
        return MeterFields(cfg.nome or cfg.medidor, categoria, cfg.fuso, self.controls.limit_kwh,
                           self.controls.multiplier, quiet_s, site=cfg.site, pulsos_por_kwh=pulses,
                           controle=cfg.controle, local=cfg.local)

    def _on_fatal(self, exc: BaseException) -> None:
        self._fatal = exc

    def close(self) -> None:
        """Release the spool of an agent opened but never run (`run` closes it itself)."""
        if self.spool is not None:
            self.spool.close()

    # -- opening and running --------------------------------------------------------------------

    def open(self) -> None:
        """Load the state and open the spool; nothing is measured or sent yet. Idempotent."""
        if self.spool is not None:
            return
        state = self._load_state()
        if self.config.chave_escrita and state.chave_escrita != self.config.chave_escrita:
            # The admin replaced the meter's keys (POST .../chaves): the new write key is kept.
            state = state.but(chave_escrita=self.config.chave_escrita)
            self.state_file.save(state)
            log.info("%s: chave de escrita nova guardada em %s", self.config.medidor, self.state_file.path)
        spool = Spool(self.config.estado / "spool", max_records=self.config.max_spool)
        self._state = state
        # The spool knows the highest seq that may have left; without a spool (deleted, a new
        # disk) the state's reservation is past any seq used before.
        self._seq = SeqNumbers(spool.last_seq, state.proximo_seq,
                               lambda reserved: self._save_state(proximo_seq=reserved))
        self.spool = spool

    def run(self, stop: threading.Event) -> None:
        """Measure until `stop` is set (or the spool turns out damaged: SpoolDamaged is raised
        after a clean stop). Raises StateError/SpoolError if the state directory is unusable."""
        self.open()
        cfg = self.config
        spool, state = self.spool, self._state
        assert spool is not None and state is not None
        try:
            last = last_reading(spool.last_payload)
            self._tracker = MonthTracker(self.tz, self.controls.limit_kwh,
                                         MonthState(state.mes, state.inicio_mes_wh, state.alerta_mes))
            source, clock, next_due = open_source(cfg, last, self.controls.multiplier, self._real_ms)
            self.status.update(fonte=source.description, seq=None if last is None else last.seq,
                               pendentes=spool.pending, spool_pct=100 * spool.fill_ratio)
            sender = Sender(api=MeterApi(cfg.servidor, cfg.medidor, fallbacks=cfg.servidores_reserva), spool=spool,
                            keys=KeyStore(self._write_key, self._save_keys), fields=self.meter_fields,
                            registration_key=cfg.chave_registro, status=self.status,
                            state_hint=str(self.state_file.path), on_commands=self.controls.apply_commands,
                            on_meter=self.controls.on_meter, paused=lambda: self.controls.paused,
                            announce=self._message, backoff=self._server_backoff, on_fatal=self._on_fatal)
            self.controls.attach(source=source, tracker=self._tracker, fields_changed=sender.fields_changed)
            self._save_state()
            self.exports = open_exports(cfg, self.tz)
            for export in self.exports:
                export.start()
            sender.start()
            pace = "conforme o aparelho publica" if getattr(source, "push", False) else f"a cada {cfg.intervalo_s:g} s"
            log.info("%s: medindo (%s) %s; estado em %s; próximo seq %d", cfg.medidor, source.description, pace,
                     cfg.estado, self.next_seq)
            try:
                self.node.running(True)
                if getattr(source, "push", False):
                    self._push_loop(stop, source, spool, sender)  # type: ignore[arg-type]
                else:
                    self._loop(stop, source, clock, next_due, spool, sender)  # type: ignore[arg-type]
            finally:
                self.node.running(False)
                for export in self.exports:
                    export.stop()
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
        if self._fatal is not None:
            raise self._fatal

    def _loop(self, stop: threading.Event, source: Source, clock: SimClock, next_due: int, spool: Spool,
              sender: Sender) -> None:
        iv = interval_ms(self.config)
        device_backoff = self._device_backoff
        device_failures = 0
        retry_at = 0.0
        warned_full = False
        warned_near = False
        disk_error = False
        # Readings per append while catching up; halved after a full disk refused a chunk (a
        # smaller one may fit in what is left), doubled back after each success.
        chunk = CHUNK
        last_save = time.monotonic()
        while not stop.is_set() and self._fatal is None:
            if time.monotonic() - last_save >= STATE_SAVE_EVERY_S:
                last_save = time.monotonic()
                try:
                    self._save_state()
                except OSError as exc:
                    log.error("%s: não foi possível gravar %s: %s", self.config.medidor, self.state_file.path, exc)
            now = clock.now_ms()
            changed = self.node.take_config()
            if changed is not None and interval_ms(changed) != iv:
                iv = apply_live_settings(self, changed, source)
                next_due = min(next_due, align_up(now + 1, iv))
            elif changed is not None:
                apply_live_settings(self, changed, source)
            if self.node.take_force() and not self.controls.paused:
                next_due, retry_at = min(next_due, now), 0.0
            self.status.update(pendentes=spool.pending, spool_pct=100 * spool.fill_ratio,
                               tempo_simulado_ms=None if clock.caught_up else now)
            warned_near = self._check_spool(spool, sender, warned_near)
            if self.controls.paused:
                if next_due <= now:
                    next_due = align_up(now + 1, iv)
                stop.wait(min(TICK_S, clock.delay_until(next_due)))
                continue
            if next_due > now or time.monotonic() < retry_at:
                wait = clock.delay_until(next_due) if next_due > now else retry_at - time.monotonic()
                stop.wait(min(TICK_S, max(wait, 0.0)))
                continue
            if source.replayable:
                count = min(chunk, (now - next_due) // iv + 1, spool.free)
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
                    next_due = align_up(now + 1, iv)
                stop.wait(TICK_S)
                continue
            warned_full = False
            try:
                measurements = [source.measure(ts) for ts in stamps]
            except SourceError as exc:
                self.node.read_failed(str(exc))
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
            self.node.read_ok(measurements[-1])
            next_due = stamps[-1] + iv if source.replayable else align_up(now + 1, iv)
            self.status.update(potencia_w=measurements[-1].potencia_w)
            if self._averager is not None:
                measurements = [w for w in map(self._averager.add, measurements) if w is not None]
            if measurements:
                try:
                    self._record(measurements, spool)
                except OSError as exc:
                    # A full or failing disk: these readings never got a seq, and nothing spooled
                    # before is touched. A simulation measures the same instants again once the
                    # disk takes them; a device's energy is in the counter of its next reading.
                    replay = source.replayable and self._averager is None
                    if replay:
                        next_due = stamps[0]
                        chunk = max(1, len(stamps) // 2)
                    if not disk_error:
                        self._message(f"{self.config.medidor}: ERRO ao gravar no disco ({exc}); " + (
                            "a simulação espera" if replay else
                            "leituras deste momento descartadas, o contador guarda a energia") + "; tentando de novo")
                    disk_error = True
                    self.status.update(dispositivo=f"erro de disco: {exc.strerror or exc}")
                    stop.wait(TICK_S)
                    continue
                if disk_error:
                    self._message(f"{self.config.medidor}: gravação no disco voltou a funcionar")
                    disk_error = False
                chunk = min(CHUNK, chunk * 2)
                sender.wake()

    def _push_loop(self, stop: threading.Event, source: PushSource, spool: Spool, sender: Sender) -> None:
        push_loop(self, stop, source, spool, sender)

    def _record(self, measurements: list[Measurement], spool: Spool) -> None:
        """Number, spool (fsynced) and account the measurements. Raises OSError with nothing
        spooled and no seq used when the disk fails."""
        seqs = self._seq
        tracker = self._tracker
        assert seqs is not None and tracker is not None
        records = []
        readings = []
        seq = seqs.next
        for m in measurements:
            try:
                reading = Reading(seq, m.ts_ms, m.energia_wh, m.potencia_w, m.medidas, m.estimada)
            except InvalidReading as exc:
                log.error("%s: leitura descartada (%s): %s", self.config.medidor, exc, m)
                continue
            payload = reading.to_json(self.tz)
            if m.pulsos:
                # The blinks travel with the reading they came with: spooled and acknowledged
                # together, so stored once (docs/protocolos.md §3). Old spools simply lack them.
                payload["pulsos"] = [list(point) for point in m.pulsos]
            records.append(SpoolRecord(seq, reading_payload(payload)))
            readings.append(m)
            seq += 1
        if not records:
            return
        seqs.reserve_before(seq)
        spool.append(records)
        seqs.used_up_to(seq)
        for export in self.exports:
            export.append(records)
        # Counted only once spooled: a reading the disk refused is not in the month either.
        alerts = []
        for m in readings:
            with self._lock:
                alert = tracker.observe(m.ts_ms, m.energia_wh)
            if alert:
                alerts.append(alert)
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
