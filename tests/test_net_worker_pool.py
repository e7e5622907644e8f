"""WorkerPool: fixed threads, FIFO jobs, survives failing jobs, joins on shutdown."""
from __future__ import annotations

import logging
import threading

import pytest

from servidor.net.worker_pool import WorkerPool


def pool_threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(name + "-")]


def test_jobs_run_on_exactly_size_named_threads():
    pool = WorkerPool(3, name="pool-a")
    pool.start()
    try:
        assert len(pool_threads("pool-a")) == 3
        done = threading.Barrier(4)
        for _ in range(3):
            assert pool.submit(done.wait, 5)
        done.wait(5)                  # three jobs running at once: every worker took one
    finally:
        assert pool.shutdown(timeout=5)
    assert pool_threads("pool-a") == []


def test_a_failing_job_is_logged_and_the_worker_survives(caplog):
    pool = WorkerPool(1, name="pool-b")
    pool.start()
    ran = threading.Event()
    with caplog.at_level(logging.ERROR, logger="servidor.net"):
        pool.submit(lambda: 1 / 0)
        pool.submit(ran.set)
        assert ran.wait(5)
    assert pool.shutdown(timeout=5)
    assert any("ZeroDivisionError" in (r.exc_text or "") for r in caplog.records)


def test_shutdown_runs_jobs_already_queued_then_refuses_new_ones():
    pool = WorkerPool(1, name="pool-c")
    pool.start()
    results: list[int] = []
    busy = threading.Event()
    pool.submit(busy.wait, 5)                 # the only worker is held: the rest must queue
    for i in range(5):
        pool.submit(results.append, i)
    busy.set()
    assert pool.shutdown(timeout=5)
    assert results == [0, 1, 2, 3, 4]
    assert pool.submit(results.append, 99) is False
    assert pool.shutdown(timeout=1)   # idempotent


def test_shutdown_reports_a_worker_still_busy_after_the_timeout():
    pool = WorkerPool(1, name="pool-d")
    pool.start()
    release = threading.Event()
    pool.submit(release.wait, 5)
    assert pool.shutdown(timeout=0.1) is False
    release.set()
    for thread in pool_threads("pool-d"):
        thread.join(5)
    assert pool_threads("pool-d") == []


def test_a_pool_needs_at_least_one_worker():
    with pytest.raises(ValueError):
        WorkerPool(0)
