"""The control port's verbs applied to the node's agents (the protocol is shared/node_protocol.py).

Every answer is built from memory (the agents' NodeState and status): the port's thread never
waits on a device. An analyzer is named by its id in config.xml (its bus address) or by its
meter id; a node with one analyzer needs no name.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable, Sequence

from shared.measurement_names import CODE_NAMES, phase_name
from shared.models import MEASUREMENT_CODES
from shared.node_protocol import CONFIG_ERROR, HELP, NOT_IMPLEMENTED, SERVER_ERROR, VERBS, Command
from medidor.agent import Agent
from medidor.config import AgentConfig
from medidor.node_state import live_changes, restart_changes
from medidor.status import render

log = logging.getLogger("medidor.controle")

# RELOAD: reads config.xml again and returns one AgentConfig per enabled analyzer.
Reload = Callable[[], list[AgentConfig]]


@dataclass(frozen=True, slots=True)
class Analyzer:
    label: str      # the analyzer's id in config.xml, or the meter id
    agent: Agent


class NodeCommands:
    """`NodeCommands(analyzers, stop, reload=..., node=...)`, then `answer(command)` → lines."""

    def __init__(self, analyzers: Sequence[Analyzer], stop: threading.Event, *, reload: Reload | None = None,
                 node: str = "") -> None:
        self._analyzers = list(analyzers)
        self._stop = stop
        self._read_config = reload
        self._node = node
        self._lock = threading.Lock()  # RELOAD against RELOAD

    def answer(self, command: Command) -> list[str]:
        if command.extra:
            return [f"{SERVER_ERROR} argumentos demais: use {command.verb} [analisador]"]
        # Only the protocol's verbs reach a method (never a helper that happens to share a name).
        if command.verb not in VERBS or command.verb == "QUIT":
            return [NOT_IMPLEMENTED]
        handler = getattr(self, f"_{command.verb.lower()}")
        try:
            return handler(command.target)
        except LookupError as exc:
            return [f"{SERVER_ERROR} {exc.args[0]}"]

    # -- finding analyzers -------------------------------------------------------------------------

    def _known(self) -> str:
        return ", ".join(a.label for a in self._analyzers)

    def _find(self, target: str) -> Analyzer:
        for analyzer in self._analyzers:
            if target in (analyzer.label, analyzer.agent.config.medidor):
                return analyzer
        raise LookupError(f"analisador {target} desconhecido (conhecidos: {self._known()})")

    def _targets(self, target: str | None) -> list[Analyzer]:
        return [self._find(target)] if target is not None else list(self._analyzers)

    def _one(self, target: str | None) -> Analyzer:
        if target is None and len(self._analyzers) != 1:
            raise LookupError(f"diga qual analisador: {self._known()}")
        return self._find(target) if target is not None else self._analyzers[0]

    # -- state ---------------------------------------------------------------------------------------

    @staticmethod
    def _state(agent: Agent) -> str:
        if not agent.node.health.running:
            return "STOPPED"
        return "PAUSED" if agent.controls.paused else "STARTED"

    @staticmethod
    def _comm(agent: Agent) -> list[str]:
        health = agent.node.health
        if health.comm:
            return ["COMM"]
        return ["NOCOMM", health.last_error or "nenhuma leitura ainda"]

    def _status(self, target: str | None) -> list[str]:
        if target is not None or len(self._analyzers) == 1:
            agent = self._one(target).agent
            return ["\t".join([self._state(agent), *self._comm(agent)])]
        states = [self._state(a.agent) for a in self._analyzers]
        state = ("STARTED" if "STARTED" in states else "PAUSED" if "PAUSED" in states else "STOPPED")
        failing = [(a, self._comm(a.agent)) for a in self._analyzers if not a.agent.node.health.comm]
        if not failing:
            return [f"{state}\tCOMM"]
        analyzer, comm = failing[0]
        return [f"{state}\tNOCOMM\t{analyzer.label}: {comm[1]}"]

    def _getstatus(self, target: str | None) -> list[str]:
        lines = []
        for analyzer in self._targets(target):
            agent = analyzer.agent
            exports = [f"{e.kind}: {e.spool.pending} na fila" + (f" ({e.last_error})" if e.last_error else "")
                       for e in agent.exports]
            lines.append("\t".join([analyzer.label, agent.config.medidor, self._state(agent), *self._comm(agent),
                                    render(agent.status.snapshot()), *exports]))
        return lines

    # -- acting ----------------------------------------------------------------------------------------

    def _start(self, target: str | None) -> list[str]:
        analyzers = self._targets(target)
        stopped = [a.label for a in analyzers if self._state(a.agent) == "STOPPED"]
        if stopped and len(stopped) == len(analyzers):
            return [f"{SERVER_ERROR} analisador {', '.join(stopped)} parado por erro (veja o log); reinicie o medidor"]
        started = False
        for analyzer in analyzers:
            if self._state(analyzer.agent) == "PAUSED":
                analyzer.agent.controls.set_paused(False, "START na porta de controle")
                started = True
        return ["START\tOK" if started else "ALLREADY START"]

    def _startall(self, target: str | None) -> list[str]:
        for analyzer in self._analyzers:
            if self._state(analyzer.agent) == "PAUSED":
                analyzer.agent.controls.set_paused(False, "STARTALL na porta de controle")
        return ["STARTING"]

    def _pause(self, target: str | None) -> list[str]:
        analyzers = self._targets(target)
        if all(self._state(a.agent) == "STOPPED" for a in analyzers):
            return ["IS STOPPED"]
        for analyzer in analyzers:
            analyzer.agent.controls.set_paused(True, "PAUSE na porta de controle")
        return ["PAUSED"]

    def _resume(self, target: str | None) -> list[str]:
        analyzers = self._targets(target)
        if all(self._state(a.agent) == "STOPPED" for a in analyzers):
            return ["IS STOPPED"]
        for analyzer in analyzers:
            analyzer.agent.controls.set_paused(False, "RESUME na porta de controle")
        return ["RESUMED"]

    def _forcereq(self, target: str | None) -> list[str]:
        analyzers = self._targets(target)
        if all(self._state(a.agent) == "STOPPED" for a in analyzers):
            return ["IS STOPPED"]
        if all(self._state(a.agent) == "PAUSED" for a in analyzers):
            return [f"{SERVER_ERROR} pausado: RESUME antes de pedir uma leitura"]
        for analyzer in analyzers:
            analyzer.agent.node.force()
        return ["FORCE REQUESTED"]

    def _shutdown(self, target: str | None) -> list[str]:
        log.warning("SHUTDOWN pedido na porta de controle")
        self._stop.set()
        return ["DONE"]

    # -- reading ---------------------------------------------------------------------------------------

    def _getvars(self, target: str | None) -> list[str]:
        agent = self._one(target).agent
        last = agent.node.health.last
        if last is None:
            return [f"{SERVER_ERROR} nenhuma leitura ainda"]
        lines = []
        for code, value in last.medidas:
            unit = MEASUREMENT_CODES.get(code) or "-"
            if isinstance(value, tuple):
                lines += [f"{code}\t{phase_name(i)}\t{v:.2f}\t{unit}" for i, v in enumerate(value)]
            else:
                lines.append(f"{code}\t-\t{value:.2f}\t{unit}")
        if last.potencia_w is not None:
            lines.append(f"potencia_w\t-\t{last.potencia_w:.2f}\tW")
        lines.append(f"energia_wh\t-\t{last.energia_wh:.2f}\tWh")
        return lines

    def _getid(self, target: str | None) -> list[str]:
        analyzer = self._one(target)
        config = analyzer.agent.config
        device = config.dispositivo
        where = f"{device.host}:{device.tcp_porta}" if device.host else device.porta or "simulado"
        model = (device.modelo or config.fonte).upper()
        return [f"{analyzer.label}\t{config.nome or config.medidor}\t{config.fonte} {model}\tendereço "
                f"{device.endereco}\t{where}"]

    _ident = _getid

    def _getconf(self, target: str | None) -> list[str]:
        lines = [f"node\t{self._node}"] if self._node else []
        for analyzer in self._targets(target):
            c = analyzer.agent.config
            lines.append("\t".join([
                analyzer.label, c.medidor, f"fonte={c.fonte}", f"modelo={c.dispositivo.modelo or '-'}",
                f"endereco={c.dispositivo.endereco}", f"tempslectura={c.intervalo_s:g}",
                f"tempsgravacio={c.gravacao_min}", f"consultas={','.join(c.codigos) if c.codigos else 'todas'}",
                f"servidor={c.servidor}"]))
        return lines

    def _getdefs(self, target: str | None) -> list[str]:
        return [f"{code}\t{unit or '-'}\t{CODE_NAMES[code]}" for code, unit in MEASUREMENT_CODES.items()]

    def _help(self, target: str | None) -> list[str]:
        return [f"{usage}\t{text}" for usage, text in HELP.items()]

    # -- RELOAD ------------------------------------------------------------------------------------------

    def _reload(self, target: str | None) -> list[str]:
        if self._read_config is None:
            return [f"{CONFIG_ERROR}\tsem config.xml: este medidor foi iniciado só com opções da linha de comando"]
        with self._lock:
            try:
                configs = self._read_config()
            except (ValueError, OSError) as exc:  # TeslaConfigError and ConfigError are ValueErrors
                log.error("RELOAD recusado; a configuração em uso continua: %s", exc)
                return [f"{CONFIG_ERROR}\t{exc}"]
            notes = self._apply(configs)
        log.info("RELOAD: config.xml relido%s", f" ({'; '.join(notes)})" if notes else "")
        return ["RELOAD\tOK" + (f"\t{'; '.join(notes)}" if notes else "")]

    def _apply(self, configs: list[AgentConfig]) -> list[str]:
        notes = []
        by_id = {c.medidor: c for c in configs}
        for analyzer in self._analyzers:
            agent = analyzer.agent
            new = by_id.pop(agent.config.medidor, None)
            if new is None:
                notes.append(f"analisador {analyzer.label} saiu do arquivo: reinicie para pará-lo")
                continue
            if live_changes(agent.config, new):
                agent.node.reconfigure(new)
            needs_restart = restart_changes(agent.config, new)
            if needs_restart:
                notes.append(f"analisador {analyzer.label}: reinicie para aplicar {', '.join(needs_restart)}")
        for meter_id in by_id:
            notes.append(f"analisador novo {meter_id}: reinicie para lê-lo")
        return notes

