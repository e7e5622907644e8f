"""Requests waiting for a meter's next readings (the live long poll), without any transport.

A waiter is a callback: `deliver(readings)` when readings newer than its `after_seq` arrive, or
`deliver(None)` when its wait runs out or the hub stops; exactly once either way. The API turns
that into an HTTP answer (servidor/api/live.py). One thread owns the deadlines.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from shared.models import Reading

# The longest a client may ask to wait: proxies and browsers commonly cut idle requests at 60 s.
MAX_WAIT_S = 55.0
log = logging.getLogger("servidor.ao_vivo")

Deliver = Callable[[Sequence[Reading] | None], None]
Fetch = Callable[[str, int], Sequence[Reading]]


@dataclass(order=True)
class _Waiter:
    deadline: float
    order: int
    stream: str = field(compare=False)
    after_seq: int = field(compare=False)
    deliver: Deliver = field(compare=False)
    done: bool = field(default=False, compare=False)


class WaiterHub:
    def __init__(self, fetch: Fetch) -> None:
        """`fetch(stream, after_seq)` gives the readings newer than `after_seq` (maybe none)."""
        self._fetch = fetch
        self._lock = threading.Condition()
        self._heap: list[_Waiter] = []
        self._by_stream: dict[str, list[_Waiter]] = {}
        self._order = itertools.count()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="live-deadlines", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wait(self, stream: str, after_seq: int, wait_s: float, deliver: Deliver) -> None:
        waiter = _Waiter(time.monotonic() + wait_s, next(self._order), stream, after_seq, deliver)
        with self._lock:
            if self._stopping:
                waiter.done = True
            else:
                heapq.heappush(self._heap, waiter)
                self._by_stream.setdefault(stream, []).append(waiter)
                self._lock.notify_all()
        if waiter.done:
            _call(deliver, None)
            return
        # A reading may have landed between the caller's check and the registration above.
        self.notify(stream, None)

    def notify(self, stream: str, max_seq: int | None) -> None:
        """New readings up to `max_seq` (None: unknown) are stored: wake who they satisfy."""
        if not self._by_stream.get(stream):
            return
        with self._lock:
            ready = [w for w in self._by_stream.get(stream, ()) if max_seq is None or w.after_seq < max_seq]
        for waiter in ready:
            readings = self._fetch(stream, waiter.after_seq)
            if readings and self._claim(waiter):
                _call(waiter.deliver, readings)

    def waiting(self, stream: str) -> int:
        with self._lock:
            return len(self._by_stream.get(stream, ()))

    def until_waiting(self, stream: str, count: int, timeout: float) -> bool:
        """Block until `count` requests wait on `stream` (True) or `timeout` passes (False)."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self._by_stream.get(stream, ())) >= count, timeout)

    def _claim(self, waiter: _Waiter) -> bool:
        """Take the waiter off the hub; False if its answer was already given."""
        with self._lock:
            if waiter.done:
                return False
            self._forget(waiter)
            return True

    def _forget(self, waiter: _Waiter) -> None:
        waiter.done = True
        waiters = self._by_stream.get(waiter.stream)
        if waiters is not None:
            waiters.remove(waiter)
            if not waiters:
                del self._by_stream[waiter.stream]
        self._lock.notify_all()

    def _run(self) -> None:
        while True:
            expired: list[_Waiter] = []
            with self._lock:
                if self._stopping:
                    return
                now = time.monotonic()
                while self._heap and (self._heap[0].deadline <= now or self._heap[0].done):
                    waiter = heapq.heappop(self._heap)
                    if not waiter.done:
                        self._forget(waiter)
                        expired.append(waiter)
                if not expired:
                    self._lock.wait(self._heap[0].deadline - now if self._heap else None)
            for waiter in expired:
                _call(waiter.deliver, None)

    def stop(self) -> None:
        """Answer every waiter with None, then end and join the deadline thread."""
        with self._lock:
            self._stopping = True
            left = [w for w in self._heap if not w.done]
            for waiter in left:
                self._forget(waiter)
            self._heap.clear()
            self._lock.notify_all()
        for waiter in left:
            _call(waiter.deliver, None)
        if self._thread.is_alive():
            self._thread.join()


def _call(deliver: Deliver, readings: Sequence[Reading] | None) -> None:
    # A failing callback is the caller's bug; it must not end the deadline thread for everyone.
    try:
        deliver(readings)
    except Exception:
        log.exception("falha ao entregar leituras ao vivo")
