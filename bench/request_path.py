"""Where a single-reading POST's CPU goes, stage by stage, without a profiler's distortion.

`python bench/request_path.py [--requisicoes 20000] [--threads 8] [--saida FILE]` runs the
request path in one process, with no sockets, from as many threads as the server has workers
(so appends share fdatasyncs as they do there): the bench's request bytes through RequestParser,
`App.handle` over fresh durable stores in a temporary directory, the answer through the server's
Encoder. Each
stage is timed with the thread's CPU clock (`time.thread_time_ns`, so waiting for fsync does
not count), and so are a few functions inside the app, wrapped for the run. A wrapper costs two
clock reads (well under 1 µs), unlike cProfile, which inflates every small call 2-4×.

What the network layer itself costs (selector, workers, syscalls) is the server's CPU per request
in `make bench` minus the total here. Functions the app no longer has (it is being reorganised)
are listed as not found and their time stays in "rest of the app".
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feed import MeterFeed  # noqa: E402
from load import post_request  # noqa: E402

# (module where the name is looked up, qualified name, what the row says). Inclusive times; none
# of these calls another, except the store's append, which calls the journal's fdatasync
# (subtracted from it below). A function imported by name is wrapped where it is used.
WRAPPED = (
    ("servidor.domain.keys", "KeyRing.identify", "auth: key lookup (hash, compare) — servidor/domain/keys"),
    ("servidor.api.router", "Router.find", "routing — servidor/api/router"),
    ("servidor.api.call", "decode_json", "JSON decode with bounds — servidor/api/body"),
    ("shared.models", "Reading.from_json", "reading validation — shared/models"),
    ("servidor.store.readings.store", "ReadingStore.append", "store append, without the fdatasync — servidor/store/readings"),
    ("servidor.store.readings.journal", "_datasync", "fdatasync's CPU: one per request here, one per group of writers in the server"),
    ("servidor.domain.alerts", "Alerts.after_ingest", "alerts after ingest — servidor/domain/alerts"),
    ("servidor.api.metrics", "Metrics.observe", "metrics — servidor/api/metrics"),
    ("servidor.api.call", "json_response", "answer JSON encode — servidor/api/errors.json_response"),
)
# A new meter's first ~1,000 readings cost about twice the later ones (bench/RESULTS.md notes);
# the server under `make bench` is past them, so these are sent, unmeasured, first.
WARM_PER_METER = 1500
ADMIN = "chave-admin-do-bench"
REGISTRATION = "chave-registro-do-bench"

# Each worker thread sums its own times; they are added up when the threads end.
_local = threading.local()


def _spent() -> dict[str, int]:
    spent = getattr(_local, "spent", None)
    if spent is None:
        spent = _local.spent = defaultdict(int)
    return spent


def _timed(label: str, func: Callable[..., Any]) -> Callable[..., Any]:
    clock = time.thread_time_ns

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = clock()
        try:
            return func(*args, **kwargs)
        finally:
            _spent()[label] += clock() - started
    return wrapper


def wrap_app(found: list[str], missing: list[str]) -> None:
    for module_name, qualname, label in WRAPPED:
        try:
            owner: Any = importlib.import_module(module_name)
            *path, name = qualname.split(".")
            for part in path:
                owner = getattr(owner, part)
            raw = inspect.getattr_static(owner, name)
        except (ImportError, AttributeError):
            missing.append(f"{module_name}.{qualname}")
            continue
        if isinstance(raw, classmethod):
            setattr(owner, name, classmethod(_timed(label, raw.__func__)))
        elif isinstance(raw, staticmethod):
            setattr(owner, name, staticmethod(_timed(label, raw.__func__)))
        else:
            setattr(owner, name, _timed(label, raw))
        found.append(label)


def run(requests: int, threads: int) -> dict[str, float]:
    """`requests` POSTs spread over `threads` threads (a meter each), like the server's workers:
    appends that arrive together share one fdatasync (the journal's group commit)."""
    from servidor.app import App, Settings, readings_dir
    from servidor.net.exchange import Encoder
    from servidor.store.documents import DocumentStore
    from servidor.store.readings import ReadingStore
    from shared.http.request_parser import RequestParser

    workdir = Path(tempfile.mkdtemp(prefix="bench-caminho-"))
    db = workdir / "db.json"
    app = App(DocumentStore.open(db), ReadingStore.open(readings_dir(db)),
              Settings(admin_key=ADMIN, registration_key=REGISTRATION), announce=lambda _: None)
    app.start()
    encoder = Encoder((("server", "monitor-energia"), ("access-control-allow-origin", "*")))
    totals: dict[str, int] = defaultdict(int)
    failures: list[str] = []
    lock = threading.Lock()

    def worker(warm: list[bytes], raw: list[bytes]) -> None:
        parser = RequestParser()
        for data in warm:
            parser.receive(data)
            app.handle(parser.next_event())
            parser.next_event()
        clock = time.thread_time_ns
        stages = {"parse": 0, "app": 0, "encode": 0}
        _spent().clear()
        for data in raw:
            t0 = clock()
            parser.receive(data)
            request = parser.next_event()
            parser.next_event()
            t1 = clock()
            response = app.handle(request)
            t2 = clock()
            encoder.encode(response, request, keep_alive=True)
            t3 = clock()
            if response.status != 200:
                failures.append(f"{response.status} {response.body[:200]!r}")
                return
            stages["parse"] += t1 - t0
            stages["app"] += t2 - t1
            stages["encode"] += t3 - t2
        with lock:
            for name, ns in (*stages.items(), *_spent().items()):
                totals[name] += ns

    try:
        plans = []
        for t in range(threads):
            create = json.dumps({"id": f"m{t}", "nome": "bench"}).encode()
            parser = RequestParser()
            parser.receive(b"POST /api/v1/medidores HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer " + ADMIN.encode()
                           + b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(create) + create)
            feed = MeterFeed.new(f"m{t}", app.handle(parser.next_event()).json()["chave_escrita"])
            plans.append(([post_request("127.0.0.1", 5000, feed, 0) for _ in range(WARM_PER_METER)],
                          [post_request("127.0.0.1", 5000, feed, 0) for _ in range(requests // threads)]))
        running = [threading.Thread(target=worker, args=plan) for plan in plans]
        for thread in running:
            thread.start()
        for thread in running:
            thread.join()
    finally:
        app.close()
        shutil.rmtree(workdir, ignore_errors=True)
    if failures:
        raise RuntimeError(f"answers other than 200: {failures[:3]}")
    done = requests // threads * threads
    return {name: ns / done / 1000 for name, ns in totals.items()}


def table(runs: list[dict[str, float]], found: list[str], missing: list[str], requests: int, threads: int) -> str:
    med = {key: statistics.median(r.get(key, 0.0) for r in runs) for key in runs[0]}
    append, sync = WRAPPED[4][2], WRAPPED[5][2]
    if append in med and sync in med:
        med[append] -= med[sync]
    inside = sum(med.get(label, 0.0) for label in found)
    total = med["parse"] + med["app"] + med["encode"]
    rows = [("HTTP request parsing — shared/http/request_parser", med["parse"])]
    rows += [(label, med.get(label, 0.0)) for label in found]
    rows += [("rest of the app: dispatch, handler, domain glue — servidor/app, servidor/api", med["app"] - inside),
             ("response serialization — servidor/net/exchange, shared/http/serializer", med["encode"])]
    out = [f"In-process request path, {requests:,} single-reading POSTs per run from {threads} threads, median of "
           f"{len(runs)} runs (CPU µs per request, thread clock):", "",
           "| CPU µs/request | share | where |", "|---:|---:|---|"]
    for label, us in rows:
        out.append(f"| {us:.1f} | {us / total:.0%} | {label} |")
    out.append(f"| **{total:.1f}** | 100% | **parse + app + encode** |")
    if missing:
        out += ["", "Not found in this version of the app (their time is in \"rest of the app\"): "
                + ", ".join(f"`{m}`" for m in missing) + "."]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requisicoes", type=int, default=20_000)
    parser.add_argument("--rodadas", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8, help="like the server's workers (default 8)")
    parser.add_argument("--saida", type=Path)
    args = parser.parse_args()
    found: list[str] = []
    missing: list[str] = []
    wrap_app(found, missing)
    runs = [run(args.requisicoes, args.threads) for _ in range(args.rodadas)]
    text = table(runs, found, missing, args.requisicoes, args.threads)
    print(text)
    if args.saida:
        args.saida.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
