"""Where the server's CPU goes under the single-reading load, by module, from a sampling profiler.

`python bench/sampled.py [--segundos 30]` starts `python -m servidor`, warms it up, then records
it with py-spy (`pip install py-spy`; not a dependency of the project, like wrk) during the
32-connection single-reading load, keeping only samples of the thread that holds the GIL (what
burns the one core Python can use). Samples cost the server nothing it can notice, unlike
cProfile, which inflates every small Python call 2-4× and so overstates the network layer and
the parser against C-heavy code such as the store. Each sample is charged to the innermost frame
of a known module; the table says which share of the server's Python CPU each module took.
"""
from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from feed import MeterFeed
from load import ConnPlan, run_load
from servers import MonitorServer

CONNECTIONS = 32
WARM_PER_METER = 1250
RATE_HZ = 100
# First match wins, so the more specific paths come first.
MODULES = (
    ("shared/http/request_parser", "HTTP request parsing (shared/http/request_parser, _framing)"),
    ("shared/http/_framing", "HTTP request parsing (shared/http/request_parser, _framing)"),
    ("shared/http/json_body", "JSON decode with bounds (servidor/api/body, shared/http/json_body)"),
    ("servidor/api/body", "JSON decode with bounds (servidor/api/body, shared/http/json_body)"),
    ("shared/http/serializer", "response serialization (servidor/net/exchange, shared/http/serializer)"),
    ("servidor/net/exchange", "response serialization (servidor/net/exchange, shared/http/serializer)"),
    ("shared/http/messages", "Request/Response values, of_json (shared/http/messages)"),
    ("servidor/net/", "network layer: selector, workers, connections, budget (servidor/net)"),
    ("servidor/store/", "readings store (servidor/store)"),
    ("shared/durable", "readings store (servidor/store)"),
    ("servidor/domain/auth", "auth: key hash and lookup (servidor/domain/keys, auth)"),
    ("servidor/domain/keys", "auth: key hash and lookup (servidor/domain/keys, auth)"),
    ("servidor/api/router", "routing (servidor/api/router)"),
    ("servidor/domain/alerts", "alerts after ingest (servidor/domain/alerts, consumption, calendar)"),
    ("servidor/billing/calendar", "alerts after ingest (servidor/domain/alerts, consumption, calendar)"),
    ("servidor/domain/consumption", "alerts after ingest (servidor/domain/alerts, consumption, calendar)"),
    ("servidor/alert_rules", "alerts after ingest (servidor/domain/alerts, consumption, calendar)"),
    ("shared/calendar", "alerts after ingest (servidor/domain/alerts, consumption, calendar)"),
    ("shared/models", "reading validation (shared/models)"),
    ("servidor/api/metrics", "metrics (servidor/api/metrics)"),
    ("servidor/", "the rest of the app: dispatch, Call, handlers (servidor/app, servidor/api)"),
    ("json/", "stdlib json (decode and encode)"),
    ("threading.py", "stdlib threading (conditions, locks: group commit, worker queue)"),
    ("queue.py", "stdlib threading (conditions, locks: group commit, worker queue)"),
)


def module_of(frame: str) -> str | None:
    for part, label in MODULES:
        if part in frame:
            return label
    return None


def aggregate(raw: Path) -> tuple[int, collections.Counter]:
    """py-spy's raw output: one `frame;frame;... count` line per stack, innermost last."""
    shares: collections.Counter = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        total += int(count)
        label = next((m for m in map(module_of, reversed(stack.split(";"))) if m), "other (stdlib, interpreter)")
        shares[label] += int(count)
    return total, shares


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segundos", type=float, default=30.0)
    parser.add_argument("--saida", type=Path)
    args = parser.parse_args()
    spy = shutil.which("py-spy")
    if spy is None:
        print("py-spy não está instalado: pip install py-spy", file=sys.stderr)
        return 2
    server = MonitorServer("amostras")
    raw = Path(tempfile.mkdtemp(prefix="bench-amostras-")) / "raw.txt"
    try:
        feeds = [MeterFeed.new(f"s{i}", server.create_meter(f"s{i}")) for i in range(CONNECTIONS)]
        run_load(server.host, server.port, [ConnPlan(feeds=[f], requests=WARM_PER_METER) for f in feeds], processes=2)
        cpu = server.cpu_seconds()
        recorder = subprocess.Popen([spy, "record", "--pid", str(server.pid), "--rate", str(RATE_HZ), "--gil",
                                     "--nonblocking", "--duration", str(int(args.segundos)), "--format", "raw",
                                     "--output", str(raw)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        result = run_load(server.host, server.port, [ConnPlan(feeds=[f]) for f in feeds],
                          duration=args.segundos, warmup=0.0, processes=2)
        recorder.wait(60)
        per_request = (server.cpu_seconds() - cpu) / max(sum(result.statuses.values()), 1) * 1e6
    finally:
        server.stop()
    total, shares = aggregate(raw)
    lines = [f"Sampled with py-spy at {RATE_HZ} Hz, GIL holder only, {total:,} samples over {args.segundos:.0f} s "
             f"of the {CONNECTIONS}-connection single-reading load ({result.rps:,.0f} req/s, {per_request:.0f} µs of "
             f"server CPU per request, all threads and the kernel included):", "",
             "| share of the server's Python CPU | ≈ µs/request | module |", "|---:|---:|---|"]
    for label, count in shares.most_common():
        lines.append(f"| {count / total:.1%} | {count / total * per_request:.0f} | {label} |")
    text = "\n".join(lines)
    print(text)
    if args.saida:
        args.saida.write_text(text + "\n")
    shutil.rmtree(raw.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
