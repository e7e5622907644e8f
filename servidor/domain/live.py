"""Long poll for live readings: a request parks as a Deferred until a reading after its `apos`
arrives, or its wait runs out (then 204). One thread owns the deadlines."""
from __future__ import annotations

import heapq
import itertools
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Callable

from shared.http.messages import Response
from servidor.net import Deferred

# The longest a client may ask to wait: proxies and browsers commonly cut idle requests at 60 s.
MAX_WAIT_S = 55.0


@dataclass(order=True)
class _Waiter:
    deadline: float
    order: int
    meter_id: str = field(compare=False)
    after_seq: int = field(compare=False)
    deferred: Deferred = field(compare=False)


class LiveHub:
    def __init__(self, answer: Callable[[str, int], Response | None]) -> None:
        """`answer(meter_id, after_seq)` builds the 200 response, or None if nothing is newer."""
        self._answer = answer
        self._lock = threading.Condition()
        self._heap: list[_Waiter] = []
        self._by_meter: dict[str, list[_Waiter]] = {}
        self._order = itertools.count()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="live-deadlines", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wait(self, meter_id: str, after_seq: int, wait_s: float) -> Deferred:
        deferred = Deferred()
        waiter = _Waiter(time.monotonic() + wait_s, next(self._order), meter_id, after_seq, deferred)
        with self._lock:
            heapq.heappush(self._heap, waiter)
            self._by_meter.setdefault(meter_id, []).append(waiter)
            self._lock.notify()
        # A reading may have landed between the caller's check and the registration above.
        self.notify(meter_id, None)
        return deferred

    def notify(self, meter_id: str, max_seq: int | None) -> None:
        """Store listener: wake the waiters of this meter that a newer reading satisfies."""
        if not self._by_meter.get(meter_id):
            return
        with self._lock:
            waiters = self._by_meter.get(meter_id, [])
            ready = [w for w in waiters if max_seq is None or w.after_seq < max_seq]
        for waiter in ready:
            if waiter.deferred.resolved:
                continue
            response = self._answer(meter_id, waiter.after_seq)
            if response is not None:
                waiter.deferred.resolve(response)
        with self._lock:
            remaining = [w for w in self._by_meter.get(meter_id, []) if not w.deferred.resolved]
            if remaining:
                self._by_meter[meter_id] = remaining
            else:
                self._by_meter.pop(meter_id, None)

    def _run(self) -> None:
        with self._lock:
            while not self._stopping:
                now = time.monotonic()
                while self._heap and (self._heap[0].deadline <= now or self._heap[0].deferred.resolved):
                    waiter = heapq.heappop(self._heap)
                    if not waiter.deferred.resolved:
                        waiter.deferred.resolve(Response(HTTPStatus.NO_CONTENT))
                    bucket = self._by_meter.get(waiter.meter_id, [])
                    if waiter in bucket:
                        bucket.remove(waiter)
                timeout = self._heap[0].deadline - now if self._heap else None
                self._lock.wait(timeout)

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            for waiter in self._heap:
                waiter.deferred.resolve(Response(HTTPStatus.NO_CONTENT))
            self._heap.clear()
            self._by_meter.clear()
            self._lock.notify()
        if self._thread.is_alive():
            self._thread.join()

