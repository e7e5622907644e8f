"""The agent's loop for sources that deliver (MQTT): spool what arrived, then confirm it.

Runs on the agent's measuring thread, in place of the polling loop in medidor/agent.py.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from medidor.pacing import CHUNK, STATE_SAVE_EVERY_S, TICK_S
from medidor.sender import Sender
from medidor.sources import PushSource
from medidor.spool import Spool

if TYPE_CHECKING:
    from medidor.agent import Agent

log = logging.getLogger("medidor")


def push_loop(agent: "Agent", stop: threading.Event, source: PushSource, spool: Spool, sender: Sender) -> None:
    """A source that delivers (MQTT): spool what arrived, then confirm it to the source, so
    that what is not on disk yet stays with the broker. Paused, messages are confirmed and
    dropped (the device's counter keeps the energy); a full spool or disk takes nothing."""
    batch: list = []
    full = disk_error = warned_near = False
    last_save = time.monotonic()
    while not stop.is_set() and agent._fatal is None:
        if time.monotonic() - last_save >= STATE_SAVE_EVERY_S:
            last_save = time.monotonic()
            try:
                agent._save_state()
            except OSError as exc:
                log.error("%s: não foi possível gravar %s: %s", agent.config.medidor, agent.state_file.path, exc)
        agent.status.update(pendentes=spool.pending, spool_pct=100 * spool.fill_ratio, dispositivo=source.state)
        warned_near = agent._check_spool(spool, sender, warned_near)
        if not batch:
            if spool.free == 0:
                if not full:
                    agent._message(f"{agent.config.medidor}: SPOOL CHEIO ({spool.pending} leituras esperando o "
                                  "servidor): as mensagens esperam no broker")
                full = True
                stop.wait(TICK_S)
                continue
            full = False
            batch = source.take(min(CHUNK, spool.free), TICK_S)
        measurements = [d.measurement for d in batch if d.measurement is not None]
        if measurements and not agent.controls.paused:
            agent.status.update(potencia_w=measurements[-1].potencia_w)
            try:
                agent._record(measurements, spool)
            except OSError as exc:
                if not disk_error:
                    agent._message(f"{agent.config.medidor}: ERRO ao gravar no disco ({exc}); as mensagens "
                                  "esperam no broker; tentando de novo")
                disk_error = True
                stop.wait(TICK_S)
                continue
            if disk_error:
                agent._message(f"{agent.config.medidor}: gravação no disco voltou a funcionar")
                disk_error = False
            sender.wake()
        source.confirm(batch)
        batch = []

