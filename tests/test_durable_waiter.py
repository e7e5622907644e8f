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


def idle(store: ReadingStore) -> bool:
    """Whether the store's waiter thread sleeps for want of work (blocked in its Condition)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if store._waiter._cond._waiters:        # the thread waiting in Condition.wait
            return True
        time.sleep(0.001)
    return False


def test_the_kicking_thread_starts_the_fsync_of_its_round_and_other_threads_need_no_kick(tmp_path: Path):
    store = ReadingStore.open(tmp_path / "leituras")
    kicks: list = []
    try:
        store.deliver_later_through(lambda run_group: False, kicks.append)
        kick = kicks[0]
        kick()                                  # this thread is the kicker (the selector thread)
        told = [threading.Event() for _ in range(4)]
        store.append_later("m", [Reading(1, T0, 1.0)], lambda result: told[0].set())
        assert told[0].wait(10)                 # the first one starts the waiter, and is synced
        assert idle(store)
        store.append_later("m", [Reading(2, T0 + 1000, 2.0)], lambda result: told[1].set())
        store.append_later("m", [Reading(3, T0 + 2000, 3.0)], lambda result: told[2].set())
        # The round is not over: nothing synced yet (the waiter's safety net is a second away).
        assert not told[1].wait(0.3) and not told[2].is_set()
        kick()                                  # the round ends: one fsync for both
        assert told[1].wait(10) and told[2].wait(10)
        assert idle(store)
        other = threading.Thread(target=lambda: store.append_later("m", [Reading(4, T0 + 3000, 4.0)],
                                                                   lambda result: told[3].set()))
        other.start()
        other.join()
        assert told[3].wait(10)                 # another thread's append needs no kick
        assert store.count("m") == 4
    finally:
        store.close()
