"""Appends answered once durable (`ReadingStore.append_later`): where their callbacks run. The
server hands each fsync's group to its selector thread (`deliver_later_through`); a hand-off
that is refused (that thread has finished) must still run them, or an agent would never be answered."""
from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

from servidor.store.readings import ReadingStore
from shared.models import Reading

T0 = int(time.time() * 1000) - 60_000


def test_each_fsync_group_runs_where_the_hand_off_runs_it(tmp_path: Path):
    groups: queue.Queue = queue.Queue()
    store = ReadingStore.open(tmp_path / "leituras")
    try:
        store.deliver_later_through(lambda run_group: groups.put(run_group) or True)
        told: list[tuple[object, str]] = []
        for seq in range(1, 6):
            store.append_later("m", [Reading(seq, T0 + seq * 1000, float(seq))],
                               lambda result: told.append((result, threading.current_thread().name)))
        ran = 0
        while ran < 5:
            group = groups.get(timeout=10)
            assert len(told) == ran          # nothing told before its group is run
            group()
            ran = len(told)
        assert [result.ultimo_seq for result, _ in told] == [1, 2, 3, 4, 5]
        assert all(result.aceitas == 1 for result, _ in told)
        assert {name for _, name in told} == {threading.current_thread().name}
        assert store.count("m") == 5
    finally:
        store.close()


def test_a_refused_hand_off_runs_the_callbacks_in_the_store_thread(tmp_path: Path):
    store = ReadingStore.open(tmp_path / "leituras")
    try:
        store.deliver_later_through(lambda run_group: False)   # the selector thread has finished
        done = threading.Event()
        told: list[tuple[object, str]] = []

        def tell(result: object) -> None:
            told.append((result, threading.current_thread().name))
            done.set()

        store.append_later("m", [Reading(1, T0, 1.0)], tell)
        assert done.wait(10)
        assert told[0][0].aceitas == 1 and told[0][1] == "leituras-duraveis"
    finally:
        store.close()
