"""A multi-process HTTP/1.1 load generator on raw keep-alive sockets.

Each process drives its share of the connections from one selector loop (on a 2-core machine
threads would only fight over the GIL). A connection sends one request, waits for the whole
response, and sends the next: closed-loop, no pipelining, like wrk. Only responses completed
inside the measuring window count, and their latencies are kept whole for the percentiles.

Responses must be framed by Content-Length (both servers under test do that).
"""
from __future__ import annotations

import multiprocessing as mp
import selectors
import socket
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field

from feed import MeterFeed

# One recv takes any response of either server whole; the loop copes with splits anyway.
RECV_BYTES = 256 * 1024
# After the window closes, in-flight responses get this long before their sockets are dropped.
DRAIN_S = 5.0
# A connect or a prebuild that takes longer means the server is not answering at all.
READY_TIMEOUT_S = 120.0


@dataclass(slots=True)
class ConnPlan:
    """What one connection sends.

    `feeds` rotate request by request (one meter per connection keeps seqs in order; several
    let a preload spread over meters). `batch` is 0 for one reading per request, else readings
    per request. `requests` fixes the work (bodies are built before the clock starts); None
    runs until the window closes. `static` replaces the feeds with one canned request.
    """

    feeds: list[MeterFeed] = field(default_factory=list)
    batch: int = 0
    requests: int | None = None
    static: bytes | None = None
    port: int | None = None   # another server than run_load's (several servers on one database)


@dataclass(slots=True)
class LoadResult:
    requests: int                 # 2xx responses completed inside the window
    readings: int                 # readings carried by those requests
    seconds: float                # length of the window (fixed-work runs: first send → last reply)
    latencies_ms: array           # one per counted response
    statuses: Counter             # every status seen, inside the window or not
    errors: list[str]             # connections that failed

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def readings_per_s(self) -> float:
        return self.readings / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def post_request(host: str, port: int, feed: MeterFeed, batch: int) -> bytes:
    body = feed.body(batch)
    return (f"POST /api/v1/medidores/{feed.meter_id}/leituras HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\nAuthorization: Bearer {feed.key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def get_request(host: str, port: int, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()


class _Conn:
    """One client connection's state inside a worker's selector loop."""

    __slots__ = ("plan", "host", "port", "sock", "out", "inbuf", "sent_at", "prebuilt",
                 "turn", "readings_in_flight", "left", "busy")

    def __init__(self, plan: ConnPlan, host: str, port: int) -> None:
        self.plan, self.host, self.port = plan, host, port
        self.sock = socket.create_connection((host, port), timeout=READY_TIMEOUT_S)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.out = memoryview(b"")
        self.inbuf = bytearray()
        self.sent_at = 0.0
        self.turn = 0
        self.readings_in_flight = 0
        self.busy = False
        self.left = plan.requests
        # Fixed work: every body is built now, so building costs the measured window nothing.
        # Reversed, so that pop() hands them out in the order the feed made them (rising seqs).
        self.prebuilt = [self._build() for _ in range(plan.requests)][::-1] if plan.requests else None

    def _build(self) -> tuple[bytes, int]:
        plan = self.plan
        if plan.static is not None:
            return plan.static, 0
        feed = plan.feeds[self.turn % len(plan.feeds)]
        self.turn += 1
        return post_request(self.host, self.port, feed, plan.batch), max(1, plan.batch)

    def next_request(self) -> bool:
        """Queue the next request; False when a fixed-work connection has sent everything."""
        if self.left is not None:
            if self.left == 0:
                return False
            self.left -= 1
            data, readings = self.prebuilt.pop()
        else:
            data, readings = self._build()
        self.out = memoryview(data)
        self.readings_in_flight = readings
        self.busy = True
        self.sent_at = time.monotonic()
        return True

    def flush(self) -> bool:
        """Send what the socket takes; True once the whole request is out."""
        while self.out:
            try:
                sent = self.sock.send(self.out)
            except (BlockingIOError, InterruptedError):
                return False
            self.out = self.out[sent:]
        return True

    def take_response(self) -> int | None:
        """The status of a complete response at the head of `inbuf` (consumed), else None."""
        buf = self.inbuf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        # Both servers under test spell the header one of two ways; lower() only otherwise.
        at = buf.find(b"\r\ncontent-length:", 0, end)
        if at < 0:
            at = buf.find(b"\r\nContent-Length:", 0, end)
        if at < 0:
            at = bytes(buf[:end]).lower().find(b"\r\ncontent-length:")
        if at < 0:
            raise ConnectionError("response without Content-Length")
        stop = buf.find(b"\r\n", at + 2, end)
        length = int(buf[at + 17: stop if stop >= 0 else end])
        total = end + 4 + length
        if len(buf) < total:
            return None
        status = int(buf[9:12])
        del buf[:total]
        return status


def _drive(index: int, host: str, port: int, plans: list[ConnPlan], duration: float, warmup: float,
           ready: mp.Barrier, results: mp.Queue) -> None:
    conns: list[_Conn] = []
    errors: list[str] = []
    try:
        conns = [_Conn(plan, host, plan.port or port) for plan in plans]
    except OSError as exc:
        errors.append(f"connect: {exc}")
    ready.wait(READY_TIMEOUT_S)
    statuses: Counter = Counter()
    latencies = array("d")
    requests = readings = 0
    sel = selectors.DefaultSelector()
    start = time.monotonic()
    fixed = any(c.left is not None for c in conns)
    window_from = start + (0.0 if fixed else warmup)
    window_to = float("inf") if fixed else window_from + duration
    first_sent, last_done = float("inf"), start
    live = 0
    for conn in conns:
        if conn.next_request():
            first_sent = min(first_sent, conn.sent_at)
            sel.register(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)
            live += 1
    give_up = float("inf")
    while live:
        now = time.monotonic()
        if now >= window_to and give_up == float("inf"):
            give_up = now + DRAIN_S
        if now >= give_up:
            break
        for key, mask in sel.select(0.2):
            conn: _Conn = key.data
            try:
                if mask & selectors.EVENT_WRITE:
                    if conn.flush():
                        sel.modify(conn.sock, selectors.EVENT_READ, conn)
                if not mask & selectors.EVENT_READ:
                    continue
                data = conn.sock.recv(RECV_BYTES)
                if not data:
                    raise ConnectionError("server closed the connection")
                conn.inbuf += data
                status = conn.take_response()
                if status is None:
                    continue
            except (OSError, ValueError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                sel.unregister(conn.sock)
                conn.sock.close()
                conn.busy = False
                live -= 1
                continue
            done = time.monotonic()
            conn.busy = False
            statuses[status] += 1
            if 200 <= status < 300 and conn.sent_at >= window_from and done <= window_to:
                requests += 1
                readings += conn.readings_in_flight
                latencies.append((done - conn.sent_at) * 1000)
                last_done = done
            if done >= window_to or not conn.next_request():
                sel.unregister(conn.sock)
                live -= 1
                continue
            if not conn.flush():
                sel.modify(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)
    for conn in conns:
        conn.sock.close()
    results.put((index, requests, readings, first_sent, last_done, latencies, statuses, errors,
                 [plan.feeds for plan in plans]))


def run_load(host: str, port: int, plans: list[ConnPlan], *, duration: float = 5.0,
             warmup: float = 1.0, processes: int = 2) -> LoadResult:
    """Drive `plans` (one connection each) from `processes` processes; block until done.

    Duration runs count what completes in `duration` seconds after a `warmup`; fixed-work runs
    (every plan with `requests`) count everything, timed from the first send to the last reply.
    The plans' feeds are advanced past what was sent, so the next run continues their seqs.
    """
    processes = max(1, min(processes, len(plans)))
    shares = [plans[i::processes] for i in range(processes)]
    # fork: the children need nothing but their plans, and the parent runs no threads.
    ctx = mp.get_context("fork")
    ready = ctx.Barrier(processes)
    results = ctx.Queue()
    workers = [ctx.Process(target=_drive, args=(i, host, port, share, duration, warmup, ready, results),
                           daemon=True) for i, share in enumerate(shares)]
    for w in workers:
        w.start()
    parts = sorted(results.get(timeout=READY_TIMEOUT_S + duration + warmup + DRAIN_S + 60) for _ in workers)
    for w in workers:
        w.join()
    latencies, statuses, errors = array("d"), Counter(), []
    requests = readings = 0
    for _, req, rd, _, _, lat, st, err, feeds in parts:
        requests += req
        readings += rd
        latencies.extend(lat)
        statuses.update(st)
        errors.extend(err)
    # The children advanced copies of the feeds: the caller's own MeterFeed objects take their
    # place, so that the next run sends new seqs (the same ones again would be duplicates, which
    # the server acknowledges without storing: a different and cheaper path than ingest).
    for (_, *_rest, feeds), share in zip(parts, shares):
        for plan, advanced in zip(share, feeds):
            for mine, theirs in zip(plan.feeds, advanced):
                mine.seq, mine.energy_mwh = theirs.seq, theirs.energy_mwh
    if all(p.requests is not None for p in plans):
        seconds = max(p[4] for p in parts) - min(p[3] for p in parts)
    else:
        seconds = duration
    return LoadResult(requests, readings, seconds, latencies, statuses, errors)
