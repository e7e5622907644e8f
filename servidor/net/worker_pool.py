"""A fixed set of worker threads fed by one queue; the pool starts, stops and joins them.

Only connections holding a complete request reach the pool, so its size bounds how many
handlers run at once, not how many clients may be connected.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any, Callable

log = logging.getLogger("servidor.net")

# Put once per thread on shutdown; queued after any pending job, so jobs already accepted run first.
_STOP = object()


class WorkerPool:
    """`size` threads named `<name>-<i>` running submitted callables in FIFO order.

    The queue is unbounded on purpose: the server submits at most one job per connection at a
    time, so the queue is already bounded by its connection limit, and a bounded queue would
    force the selector thread to block (stalling every client) or drop a complete request.
    """

    def __init__(self, size: int, name: str = "worker") -> None:
        if size < 1:
            raise ValueError(f"a pool needs at least one worker, got {size}")
        self._size = size
        self._name = name
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._accepting = False

    @property
    def size(self) -> int:
        return self._size

    def start(self) -> None:
        with self._lock:
            if self._threads:
                raise RuntimeError("pool already started")
            self._accepting = True
            for i in range(self._size):
                thread = threading.Thread(target=self._run, name=f"{self._name}-{i}", daemon=True)
                self._threads.append(thread)
                thread.start()

    def submit(self, fn: Callable[..., None], *args: Any) -> bool:
        """Queue `fn(*args)`; False (and nothing queued) once shutdown has begun."""
        with self._lock:
            if not self._accepting:
                return False
            self._jobs.put((fn, args))
            return True

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Stop taking jobs, let queued ones finish, join every thread; True if all joined in time.

        Idempotent. A thread still running a handler after `timeout` is left (it is a daemon) and
        reported, since Python cannot stop a thread from outside.
        """
        with self._lock:
            was_accepting, self._accepting = self._accepting, False
            threads = list(self._threads)
        if was_accepting:
            for _ in threads:
                self._jobs.put(_STOP)
        deadline = time.monotonic() + timeout
        for thread in threads:
            if thread is threading.current_thread():
                continue                   # shutdown called from a job: it exits after returning
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in threads if t.is_alive() and t is not threading.current_thread()]
        if stuck:
            log.warning("trabalhadores ainda ocupados depois de %.1f s: %s", timeout, ", ".join(stuck))
        return not stuck

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            fn, args = job
            # The socketserver habit: try / log / carry on. A job that raises must not take
            # a worker with it, or the pool would shrink silently until the server stalls.
            try:
                fn(*args)
            except Exception:
                log.exception("tarefa de trabalhador %r falhou", fn)
