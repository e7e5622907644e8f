"""Where the server's time goes: the same loads again, under cProfile in every thread.

Two passes per load, because each clock answers a different question. The CPU clock
(per-thread `thread_time`) shows what burns the one core the GIL lets Python use. The wall
clock shows where a request waits: fdatasync, a lock, the worker queue. Throughput under the
profiler is 2-4× lower and is never reported; only the shares are.

A `with lock:` block waiting for the lock is charged to the enclosing function's own time
(cProfile does not see `__enter__`), so a function with large wall tottime and small CPU
tottime is waiting for a lock there.
"""
from __future__ import annotations

import copy
import pstats
import shutil
import tempfile
from pathlib import Path

from feed import MeterFeed
from load import ConnPlan, run_load
from servers import ROOT, MonitorServer

TOP = 14
# Frames that only wrap the handler (thread bodies, the pool's loop) say nothing per request.
_WRAPPERS = ("threading.py", "worker_pool.py", "cli.py", "profiled_server.py")


def _label(key: tuple[str, int, str]) -> str:
    filename, line, func = key
    if filename == "~":
        return func
    try:
        filename = str(Path(filename).resolve().relative_to(ROOT))
    except ValueError:
        filename = Path(filename).name
    return f"{filename}:{line}({func})"


def _rows(stats: pstats.Stats) -> list[tuple[tuple[str, int, str], int, float, float]]:
    return [(key, nc, tt, ct) for key, (cc, nc, tt, ct, callers) in stats.stats.items()]


# Builtins worth a row in the request-path tables (the rest are noise or idle waits).
_BUILTINS = ("<built-in method posix.fdatasync>", "<method 'sendall' of '_socket.socket' objects>",
             "<method 'recv' of '_socket.socket' objects>", "<built-in method posix.write>")


def _request_path(rows: list) -> list:
    """Rows of the project's code (and a few telling builtins), without thread bodies."""
    keep = []
    for row in rows:
        filename, _, func = row[0]
        if filename == "~":
            if func in _BUILTINS:
                keep.append(row)
            continue
        if ("/servidor/" in filename or "/shared/" in filename) and func != "_run" \
                and not any(w in filename for w in _WRAPPERS):
            keep.append(row)
    return keep


# Own CPU time is summed per component; a builtin's is charged to the components that call it.
# First match wins, so the more specific paths come first.
_COMPONENTS = (
    ("HTTP request parsing (shared/http parser, framing)", ("shared/http/request_parser", "shared/http/_framing")),
    ("HTTP response building (shared/http serializer, messages)", ("shared/http/",)),
    ("socket server: selector, connections, workers (servidor/net)", ("servidor/net/",)),
    ("reading validation (shared/models)", ("shared/models",)),
    ("readings store: append, columns, rollups, journal (servidor/store/readings)", ("servidor/store/readings/",)),
    ("alerts and month consumption (domain/alerts, consumption, billing/calendar)",
     ("servidor/domain/alerts", "servidor/domain/consumption", "servidor/billing/calendar", "servidor/domain/alert_rules")),
    ("API: routing, auth, handlers, JSON (servidor/api, app, domain, metrics)", ("servidor/",)),
    ("stdlib json", ("/json/",)),
    ("stdlib threading, queue, selectors", ("threading.py", "queue.py", "selectors.py")),
)
# Calls worth seeing on their own, cumulative: (file name ending, function).
_KEY_CALLS = (
    ("request_parser.py", "next_event"), ("router.py", "resolve"), ("auth.py", "identify"),
    ("call.py", "json"), ("readings.py", "_parse_batch"), ("store.py", "append"),
    ("alerts.py", "after_ingest"), ("serializer.py", "serialize_response"),
    ("connection.py", "send"), ("responder.py", "serve"), ("reactor.py", "_on_readable"),
)


def _component(filename: str) -> str:
    for label, parts in _COMPONENTS:
        if any(p in filename for p in parts):
            return label
    return "other (stdlib, interpreter)"


def cpu_table(path: Path, requests: int) -> str:
    """CPU per request by component, a few key calls cumulative, and the top own-time functions."""
    stats = pstats.Stats(str(path))
    total = sum(v[2] for v in stats.stats.values()) or 1.0
    per = max(requests, 1)
    by_component: dict[str, float] = {}
    for key, (cc, nc, tt, ct, callers) in stats.stats.items():
        if key[0] != "~":
            by_component[_component(key[0])] = by_component.get(_component(key[0]), 0.0) + tt
            continue
        shared = sum(c[2] for c in callers.values()) or 1.0
        for caller, c in callers.items():
            label = _component(caller[0]) if caller[0] != "~" else "other (stdlib, interpreter)"
            by_component[label] = by_component.get(label, 0.0) + tt * c[2] / shared
    out = [f"Server CPU under the profiler: {total:.2f} s for {requests:,} requests "
           f"({total / per * 1e3:.3f} ms per request; the profiler inflates many small calls more than "
           "a few large ones, so read the shares, not the times).",
           "", "By component (own time; builtins charged to their callers):", "",
           "| CPU µs/request | share | component |", "|---:|---:|---|"]
    for label, tt in sorted(by_component.items(), key=lambda kv: kv[1], reverse=True):
        out.append(f"| {tt / per * 1e6:,.0f} | {tt / total:.0%} | {label} |")
    out += ["", "Key calls, cumulative (with everything they call):", "",
            "| CPU µs/request | share | calls/request | function |", "|---:|---:|---:|---|"]
    for key, (cc, nc, tt, ct, callers) in sorted(stats.stats.items(), key=lambda kv: kv[1][3], reverse=True):
        if any(key[0].endswith(f) and key[2] == fn for f, fn in _KEY_CALLS):
            out.append(f"| {ct / per * 1e6:,.0f} | {ct / total:.0%} | {nc / per:.2f} | `{_label(key)}` |")
    out += ["", "Top functions by own time:", "",
            "| CPU µs/request | share | calls/request | function |", "|---:|---:|---:|---|"]
    rows = sorted(_rows(stats), key=lambda r: r[2], reverse=True)
    for key, nc, tt, ct in rows[:TOP // 2 + 2]:
        out.append(f"| {tt / per * 1e6:,.0f} | {tt / total:.0%} | {nc / per:.2f} | `{_label(key)}` |")
    return "\n".join(out)


def wall_table(path: Path, requests: int) -> str:
    """Wall clock: the request path by cumulative time per request, i.e. where a request waits."""
    stats = pstats.Stats(str(path))
    per = max(requests, 1)
    rows = sorted(_request_path(_rows(stats)), key=lambda r: r[3], reverse=True)
    out = ["| wall ms/request, cumulative | own | calls/request | function |", "|---:|---:|---:|---|"]
    for key, nc, tt, ct in rows[:TOP]:
        out.append(f"| {ct / per * 1e3:.2f} | {tt / per * 1e3:.2f} | {nc / per:.2f} | `{_label(key)}` |")
    return "\n".join(out)


def profile_loads(source: MonitorServer, single: list[MeterFeed], batch: list[MeterFeed],
                  single_s: float, batch_requests: int, processes: int) -> list[tuple[str, str]]:
    """Profile the 32-connection single-reading load and the batched load; report sections.

    Each profiled server starts on a copy of `source` (stopped), whose meters `single` and
    `batch` already hold readings: a meter's first readings cost more and would skew the
    profile, and under the profiler a fresh server would take minutes to get past them.
    """
    sections = []
    workdir = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    for kind in ("single", "batch"):
        parts = []
        for clock in ("cpu", "wall"):
            out = workdir / f"{kind}-{clock}.prof"
            server = MonitorServer(f"perfil-{kind}-{clock}", profile_to=out, cpu_clock=clock == "cpu",
                                   copy_of=source)
            # Each copy starts from the same stored state, so each run starts from the same feeds.
            feeds = copy.deepcopy(single if kind == "single" else batch)
            try:
                if kind == "single":
                    result = run_load(server.host, server.port, [ConnPlan(feeds=[f]) for f in feeds],
                                      duration=single_s, warmup=0.5, processes=processes)
                else:
                    result = run_load(server.host, server.port,
                                      [ConnPlan(feeds=[f], batch=1000, requests=batch_requests) for f in feeds],
                                      processes=processes)
            finally:
                server.stop()
            # Requests of the whole profiled life (warm-up and drain included) divide the totals.
            served = sum(result.statuses.values())
            if not out.exists():
                parts.append(f"(no profile written: {server.stderr_tail()})")
                continue
            if clock == "cpu":
                parts.append("**CPU clock** (per-thread CPU time).\n\n" + cpu_table(out, served))
            else:
                parts.append("**Wall clock**, request path by cumulative time per request (own time of a "
                             "function that takes a lock with `with` includes the wait for it):\n\n"
                             + wall_table(out, served))
            shutil.rmtree(server.workdir, ignore_errors=True)
        title = (f"Profile: single-reading POSTs, {len(single)} connections" if kind == "single"
                 else f"Profile: batches of 1000 readings, {len(batch)} connections")
        sections.append((title, "\n\n".join(parts)))
    return sections
