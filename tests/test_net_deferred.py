"""Deferred: a one-shot Response slot that any thread may fill, first resolve winning."""
from __future__ import annotations

import logging
import threading

import pytest

from servidor.net import Deferred
from shared.http.messages import Response


def test_first_resolve_wins_and_later_ones_report_false():
    deferred = Deferred()
    assert not deferred.resolved and deferred.response is None
    assert deferred.resolve(Response(200)) is True
    assert deferred.resolve(Response(204)) is False
    assert deferred.response == Response(200)


def test_callback_added_before_resolve_runs_once_with_the_response():
    deferred, seen = Deferred(), []
    deferred.add_callback(seen.append)
    deferred.resolve(Response(201))
    deferred.resolve(Response(500))
    assert seen == [Response(201)]


def test_callback_added_after_resolve_runs_at_once_in_the_caller_thread():
    deferred, seen = Deferred(), []
    deferred.resolve(Response(204))
    deferred.add_callback(lambda response: seen.append((response.status, threading.get_ident())))
    assert seen == [(204, threading.get_ident())]


def test_resolve_rejects_anything_but_a_response():
    deferred = Deferred()
    with pytest.raises(TypeError):
        deferred.resolve({"status": 200})  # type: ignore[arg-type]
    assert not deferred.resolved


def test_failing_callback_is_logged_and_does_not_stop_the_others(caplog):
    deferred, seen = Deferred(), []
    deferred.add_callback(lambda response: 1 / 0)
    deferred.add_callback(seen.append)
    with caplog.at_level(logging.ERROR, logger="servidor.net"):
        assert deferred.resolve(Response(200)) is True
    assert seen == [Response(200)]
    assert any("ZeroDivisionError" in (r.exc_text or "") for r in caplog.records)


def test_racing_resolvers_produce_exactly_one_winner_and_one_callback_call():
    for _ in range(50):
        deferred, calls = Deferred(), []
        deferred.add_callback(calls.append)
        barrier = threading.Barrier(8)
        wins: list[bool] = []

        def race(status: int) -> None:
            barrier.wait()
            wins.append(deferred.resolve(Response(status)))

        threads = [threading.Thread(target=race, args=(200 + i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert wins.count(True) == 1
        assert calls == [deferred.response]
