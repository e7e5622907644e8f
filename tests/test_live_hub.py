"""The waiter hub of the live long poll, without HTTP: exactly one delivery per waiter, by a new
reading, by its deadline or by the hub stopping, and a failing callback harms nobody else."""
from __future__ import annotations

import threading

from shared.models import Reading
from servidor.domain.live import WaiterHub

T0 = 1_790_000_000_000


class Stream:
    def __init__(self) -> None:
        self.readings: list[Reading] = []

    def fetch(self, stream: str, after_seq: int) -> list[Reading]:
        return [r for r in self.readings if r.seq > after_seq]


class Inbox:
    def __init__(self) -> None:
        self.got: list[object] = []
        self.done = threading.Event()

    def __call__(self, readings) -> None:
        self.got.append(None if readings is None else [r.seq for r in readings])
        self.done.set()


def test_a_waiter_gets_the_new_readings_once():
    data = Stream()
    hub = WaiterHub(data.fetch)
    hub.start()
    try:
        inbox = Inbox()
        hub.wait("m", 1, 30, inbox)
        assert hub.waiting("m") == 1
        hub.notify("m", 1)  # nothing after seq 1 yet: still waiting
        assert inbox.got == []
        data.readings += [Reading(2, T0, 1.0), Reading(3, T0 + 1, 2.0)]
        hub.notify("m", 3)
        hub.notify("m", 3)
        assert inbox.got == [[2, 3]] and hub.waiting("m") == 0
    finally:
        hub.stop()
    assert inbox.got == [[2, 3]]  # stopping did not deliver again


def test_a_reading_already_there_is_delivered_at_once():
    data = Stream()
    data.readings.append(Reading(5, T0, 1.0))
    hub = WaiterHub(data.fetch)
    inbox = Inbox()
    hub.wait("m", 4, 30, inbox)
    assert inbox.got == [[5]]
    hub.stop()


def test_the_deadline_delivers_none_and_stop_answers_everyone_and_joins():
    hub = WaiterHub(Stream().fetch)
    hub.start()
    quick, slow = Inbox(), Inbox()
    hub.wait("m", 0, 0.05, quick)
    hub.wait("n", 0, 30, slow)
    assert quick.done.wait(10) and quick.got == [None]
    hub.stop()
    assert slow.got == [None]
    assert not hub._thread.is_alive()
    late = Inbox()
    hub.wait("m", 0, 30, late)  # after stopping: answered at once, never parked
    assert late.got == [None]


def test_a_failing_callback_does_not_stop_the_others():
    hub = WaiterHub(Stream().fetch)
    hub.start()

    def broken(_readings) -> None:
        raise RuntimeError("defeito do chamador")

    fine = Inbox()
    hub.wait("m", 0, 0.01, broken)
    hub.wait("m", 0, 0.05, fine)
    assert fine.done.wait(10) and fine.got == [None]
    hub.stop()


def test_until_waiting_reports_a_parked_request():
    hub = WaiterHub(Stream().fetch)
    assert not hub.until_waiting("m", 1, timeout=0.01)
    hub.wait("m", 0, 30, Inbox())
    assert hub.until_waiting("m", 1, timeout=1)
    hub.stop()
