"""This tree's server against another checkout's, single-reading POSTs, rounds interleaved.

`python bench/against.py /path/to/other/checkout [--rodadas 8]` starts `python -m servidor` from
each tree on fresh databases (32 meters each, 40,000 unmeasured requests first), then alternates
6-s windows of the 32-connection single-reading load between them, so a machine that gets busier
or quieter slows both alike. Prints each window and the medians (req/s, server CPU µs per
request). `git archive main | tar -x -C /tmp/main` makes a checkout of main to compare with.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

import servers
from feed import MeterFeed
from load import ConnPlan, run_load
from servers import MonitorServer

CONNECTIONS = 32
WARM_PER_METER = 1250
WINDOW_S = 5.0


def start(root: Path) -> tuple[MonitorServer, list[MeterFeed]]:
    # Older trees have no per-client limit options; they have no per-client limits either.
    usage = subprocess.run([sys.executable, "-m", "servidor", "--help"], cwd=root, capture_output=True, text=True).stdout
    servers.ROOT = root
    server = MonitorServer(f"contra-{root.name}", client_limits="--conexoes-por-cliente" not in usage)
    feeds = [MeterFeed.new(f"s{i}", server.create_meter(f"s{i}")) for i in range(CONNECTIONS)]
    run_load(server.host, server.port, [ConnPlan(feeds=[f], requests=WARM_PER_METER) for f in feeds], processes=2)
    return server, feeds


def window(server: MonitorServer, feeds: list[MeterFeed]) -> tuple[float, float, float]:
    cpu = server.cpu_seconds()
    result = run_load(server.host, server.port, [ConnPlan(feeds=[f]) for f in feeds], duration=WINDOW_S,
                      warmup=1.0, processes=2)
    per = (server.cpu_seconds() - cpu) / max(sum(result.statuses.values()), 1) * 1e6
    return result.rps, per, result.percentile(99)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outra", type=Path, help="the other checkout")
    parser.add_argument("--rodadas", type=int, default=8)
    args = parser.parse_args()
    here = Path(__file__).resolve().parent.parent
    sides = {"this tree": start(here), str(args.outra): start(args.outra.resolve())}
    rows: dict[str, list[tuple[float, float, float]]] = {name: [] for name in sides}
    try:
        for r in range(args.rodadas):
            for name in (list(sides) if r % 2 == 0 else list(sides)[::-1]):
                rps, per, p99 = window(*sides[name])
                rows[name].append((rps, per, p99))
                print(f"round {r + 1}: {name}: {rps:,.0f} req/s, {per:.0f} µs CPU/request, p99 {p99:.1f} ms", flush=True)
    finally:
        for server, _ in sides.values():
            server.stop()
    for name, values in rows.items():
        print(f"{name}: median {statistics.median(v[0] for v in values):,.0f} req/s, "
              f"{statistics.median(v[1] for v in values):.0f} µs CPU/request, "
              f"p99 {statistics.median(v[2] for v in values):.1f} ms (n={len(values)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
