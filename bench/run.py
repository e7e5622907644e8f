"""The server benchmark: every figure of the issue in one run, written to bench/RESULTS.md.

`make bench` (or `.venv/bin/python bench/run.py`). Each server runs in its own process and the
load comes from other processes (bench/load.py). Baselines are measured in the same run and
interleaved with what they are compared with (ceiling / real server, empty / 1 M readings),
so a noisy neighbour slows both sides of a ratio alike. Takes about 5-7 minutes.
"""
from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path

from feed import MeterFeed
from idle import IdleConnections, raise_file_limit
from load import ConnPlan, LoadResult, run_load
from report import Figure, machine_info, median, spread, table, write_results
from servers import BENCH, MonitorServer, ServerProcess, start_ceiling, start_net_only
import abuse
import wrk_check

CONNECTIONS = 32          # the keep-alive connection count
LOAD_PROCESSES = 2        # one per core: more only steals CPU from the server under test
REPEATS = 3
ROUNDS = 5                # interleaved comparisons (ceiling / server, empty / 1 M) get more rounds
WRK_S = 5                 # window of each wrk cross-check run
# A fresh server's first ~20-30 k single-reading POSTs run at about half the later rate (see
# the notes in RESULTS.md), so every server gets this many unmeasured ones before its rounds: a
# count, not a time, since a slower or busier machine gets through fewer in the same seconds.
WARM_REQUESTS = 40_000
SINGLE_S = 6.0            # measuring window of a single-reading run, after WARMUP_S
WARMUP_S = 1.0
BATCH = 1000              # readings per request: the API's maximum
BATCH_CONNECTIONS = 4     # "a few connections"
BATCH_RUN_S = 4.0         # fixed-work batch runs are sized to last about this long
PRELOAD = 1_000_000
PRELOAD_METERS = 40       # 25,000 readings each; the first 32 are the load's meters
PRELOAD_CONNECTIONS = 8
COMPARE_S = 3.0           # window of each empty vs 1 M run: short, so that the two sides
CMP_ROUNDS = 10           # alternate often enough to see the same neighbours (±20 % swings)
LATENCY_S = 5.0           # window of each sequential-latency run
IDLE = 1_000
# Issue 8 #2 as found: 7 rounds of 200 connections announcing 4 MiB and stalling left 3,005 MiB.
ABUSE_ROUNDS = 7
ABUSE_CONNECTIONS = 200

# Targets, from the issue.
T_INGEST_RATIO = 0.25
T_BATCH_RPS = 200_000
T_FULL_RATIO = 0.9
T_BYTES = 16.0
T_MEMORY_MB = 300
T_P99_MS = 50.0
T_ABUSE_RSS = 2.0          # the soak's bound: RSS back under 2× its start once abusers leave


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def meters(server: MonitorServer, prefix: str, count: int) -> list[MeterFeed]:
    return [MeterFeed.new(f"{prefix}{i}", server.create_meter(f"{prefix}{i}")) for i in range(count)]


def children_cpu() -> float:
    """CPU of this process's finished children: the load processes, once joined."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def single_load(server: ServerProcess, feeds: list[MeterFeed], seconds: float) -> tuple[LoadResult, float, float, float]:
    """One single-reading run, one meter per connection: (result, server CPU, generator CPU,
    server CPU µs per request). CPUs in cores: CPU seconds per second of the whole run."""
    cpu, load_cpu, wall = server.cpu_seconds(), children_cpu(), time.monotonic()
    result = run_load(server.host, server.port, [ConnPlan(feeds=[f]) for f in feeds],
                      duration=seconds, warmup=WARMUP_S, processes=LOAD_PROCESSES)
    elapsed = time.monotonic() - wall
    used = server.cpu_seconds() - cpu
    check(result, server.name)
    # Every answered request, warm-up included, shares the CPU the server used in the run.
    per_request = used / max(sum(result.statuses.values()), 1) * 1e6
    return result, used / elapsed, (children_cpu() - load_cpu) / elapsed, per_request


def check(result: LoadResult, where: str) -> None:
    bad = {s: n for s, n in result.statuses.items() if not 200 <= s < 300}
    if bad or result.errors:
        log(f"  !! {where}: non-2xx {bad}, errors {result.errors[:3]}")


def describe(result: LoadResult) -> str:
    return f"{result.rps:,.0f} req/s, p50 {result.percentile(50):.1f} ms, p99 {result.percentile(99):.1f} ms"


def warm_up(server: MonitorServer, feeds: list[MeterFeed], out: dict, key: str) -> None:
    """Unmeasured single-reading load, so that rounds compare warm servers; its rate is kept."""
    per_meter = max(1, WARM_REQUESTS // len(feeds))
    result = run_load(server.host, server.port, [ConnPlan(feeds=[f], requests=per_meter) for f in feeds],
                      processes=LOAD_PROCESSES)
    check(result, server.name)
    out[key] = result.rps
    log(f"  warm-up of {server.name} ({per_meter * len(feeds):,} requests, not a figure): {describe(result)}")


def ingest_vs_ceiling(server: MonitorServer, feeds: list[MeterFeed], out: dict) -> None:
    ceiling = start_ceiling()
    net = start_net_only()
    fake = [MeterFeed.new(f"s{i}", "teto") for i in range(CONNECTIONS)]  # same request bytes
    try:
        for r in range(ROUNDS):
            # Alternate which goes first, so a machine getting busier or quieter during the
            # round does not always favour the same side.
            if r % 2 == 0:
                c, c_cpu, c_load, c_us = single_load(ceiling, fake, SINGLE_S)
                n, _, _, n_us = single_load(net, fake, SINGLE_S)
                s, s_cpu, s_load, s_us = single_load(server, feeds, SINGLE_S)
            else:
                s, s_cpu, s_load, s_us = single_load(server, feeds, SINGLE_S)
                n, _, _, n_us = single_load(net, fake, SINGLE_S)
                c, c_cpu, c_load, c_us = single_load(ceiling, fake, SINGLE_S)
            log(f"  round {r + 1}: ceiling {describe(c)} (cpu: server {c_cpu:.2f}, load {c_load:.2f}) | "
                f"network layer alone {describe(n)} ({n_us:.0f} µs CPU/req) | "
                f"server {describe(s)} (cpu: server {s_cpu:.2f}, load {s_load:.2f})")
            out["net"].append(n.rps)
            out["net_us"].append(n_us)
            out["net_ratio"].append(n.rps / c.rps if c.rps else 0.0)
            out["ceiling_us"].append(c_us)
            out["single_us"].append(s_us)
            out["ceiling_load_cpu"].append(c_load)
            out["single_load_cpu"].append(s_load)
            out["ceiling"].append(c.rps)
            out["single"].append(s.rps)
            out["single_ratio"].append(s.rps / c.rps if c.rps else 0.0)
            out["single_p50"].append(s.percentile(50))
            out["single_p99"].append(s.percentile(99))
            out["ceiling_cpu"].append(c_cpu)
            out["single_cpu"].append(s_cpu)
        if wrk_check.available():
            # wrk gets meters of its own; two batches each first, since a meter's first readings
            # cost more (see WARM_REQUESTS).
            wrk_feeds = meters(server, "w", CONNECTIONS)
            run_load(server.host, server.port, [ConnPlan(feeds=[f], batch=BATCH, requests=2) for f in wrk_feeds],
                     processes=LOAD_PROCESSES)
            wrk_meters = [(f.meter_id, f.key) for f in wrk_feeds]
            first = max(f.seq for f in wrk_feeds)
            now = int(time.time() * 1000)
            for r in range(REPEATS):
                # Seqs restart far above the last round's: wrk does not say how many it sent.
                c = wrk_check.run_wrk(ceiling.host, ceiling.port, wrk_meters, WRK_S, 1, now)
                s = wrk_check.run_wrk(server.host, server.port, wrk_meters, WRK_S, first + r * 100_000, now)
                log(f"  wrk round {r + 1}: ceiling {c['rps']:,.0f} req/s p99 {c['p99']:.1f} ms | server "
                    f"{s['rps']:,.0f} req/s p99 {s['p99']:.1f} ms" + (f" [non-2xx {s['non_2xx']}]" if s["non_2xx"] else "")
                    + (f" [{c['error'] or s['error']}]" if c["error"] or s["error"] else ""))
                out["wrk_ceiling"].append(c["rps"])
                out["wrk_single"].append(s["rps"])
                out["wrk_ratio"].append(s["rps"] / c["rps"] if c["rps"] else 0.0)
    finally:
        ceiling.stop()
        net.stop()


def batched(server: MonitorServer, feeds: list[MeterFeed], out: dict) -> None:
    per_conn = 20
    for r in range(REPEATS):
        cpu, wall = server.cpu_seconds(), time.monotonic()
        result = run_load(server.host, server.port,
                          [ConnPlan(feeds=[f], batch=BATCH, requests=per_conn) for f in feeds],
                          processes=LOAD_PROCESSES)
        cores = (server.cpu_seconds() - cpu) / (time.monotonic() - wall)
        check(result, server.name)
        log(f"  round {r + 1}: {result.readings:,} readings in {result.seconds:.2f} s = "
            f"{result.readings_per_s:,.0f} readings/s, p50 {result.percentile(50):.0f} ms per batch (cpu {cores:.2f})")
        out["batch"].append(result.readings_per_s)
        out["batch_cpu"].append(cores)
        # Size the next run to last about BATCH_RUN_S at the rate just seen.
        per_conn = max(10, min(400, int(result.readings_per_s * BATCH_RUN_S / BATCH / len(feeds))))


def latency(server: MonitorServer, feed: MeterFeed, out: dict) -> None:
    """Sequential single-reading POSTs from one connection, without and with idle connections."""
    for r in range(REPEATS):
        quiet = run_load(server.host, server.port, [ConnPlan(feeds=[feed])], duration=LATENCY_S,
                         warmup=0.5, processes=1)
        check(quiet, server.name)
        with IdleConnections(server.host, server.port, IDLE) as idle:
            time.sleep(0.5)              # let the server accept and register all of them
            busy = run_load(server.host, server.port, [ConnPlan(feeds=[feed])], duration=LATENCY_S,
                            warmup=0.5, processes=1)
            still = idle.open_now()
        check(busy, server.name)
        log(f"  round {r + 1}: alone {describe(quiet)} | with {idle.opened} idle ({still} still open) {describe(busy)}"
            + (f" [idle: {idle.error}]" if idle.error else ""))
        out["lat_p50"].append(quiet.percentile(50))
        out["lat_p99"].append(quiet.percentile(99))
        out["idle_p50"].append(busy.percentile(50))
        out["idle_p99"].append(busy.percentile(99))
        out["idle_open"].append(min(idle.opened, still))


def abuse_memory(out: dict) -> None:
    """Unfinished 4 MiB bodies from a crowd of addresses against a server with default limits."""
    server = MonitorServer("abuso", client_limits=True)
    try:
        out["abuse_start"], out["abuse_rows"] = abuse.run_rounds(server, ABUSE_ROUNDS, ABUSE_CONNECTIONS, log)
        out["abuse_health"] = server.health().get("estado")
    finally:
        out["abuse_exit"] = server.stop()
    shutil.rmtree(server.workdir, ignore_errors=True)


def preload(server: MonitorServer, feeds: list[MeterFeed], out: dict) -> None:
    per_meter = PRELOAD // len(feeds) // BATCH
    groups = [feeds[i::PRELOAD_CONNECTIONS] for i in range(PRELOAD_CONNECTIONS)]
    plans = [ConnPlan(feeds=g, batch=BATCH, requests=per_meter * len(g)) for g in groups]
    result = run_load(server.host, server.port, plans, processes=LOAD_PROCESSES)
    check(result, server.name)
    out["preload_rate"] = result.readings_per_s
    log(f"  preloaded {result.readings:,} readings in {result.seconds:.1f} s ({result.readings_per_s:,.0f}/s)")


def empty_vs_full(empty: MonitorServer, empty_feeds: list[MeterFeed], full: MonitorServer,
                  full_feeds: list[MeterFeed], out: dict) -> None:
    for r in range(CMP_ROUNDS):
        if r % 2 == 0:
            e, _, _, e_us = single_load(empty, empty_feeds, COMPARE_S)
            f, _, _, f_us = single_load(full, full_feeds, COMPARE_S)
        else:
            f, _, _, f_us = single_load(full, full_feeds, COMPARE_S)
            e, _, _, e_us = single_load(empty, empty_feeds, COMPARE_S)
        log(f"  round {r + 1}: empty {describe(e)} ({e_us:.0f} µs CPU/req) | 1 M {describe(f)} ({f_us:.0f} µs CPU/req)")
        out["cmp_empty_us"].append(e_us)
        out["cmp_full_us"].append(f_us)
        out["cmp_empty"].append(e.rps)
        out["cmp_full"].append(f.rps)
        out["cmp_ratio"].append(f.rps / e.rps if e.rps else 0.0)


def compact_offline(directory: Path, out: dict) -> None:
    """Open the stopped server's store in this process, compact it, and measure the files."""
    from servidor.store.readings import ReadingStore
    before = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
    started = time.monotonic()
    store = ReadingStore.open(directory)
    opened = time.monotonic()
    try:
        store.compact()
        compacted = time.monotonic()
        stats = store.stats()
    finally:
        store.close()
    after = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
    out.update(disk_before=before, disk_after=after, stored=stats["leituras"], store_stats=stats,
               open_s=opened - started, compact_s=compacted - opened)
    log(f"  {stats['leituras']:,} readings: {before:,} B before, {after:,} B after compaction "
        f"({after / max(stats['leituras'], 1):.2f} B/reading); open {opened - started:.1f} s, "
        f"compact {compacted - opened:.1f} s; {stats}")


def figures(out: dict) -> list[Figure]:
    m = median
    ratio = m(out["single_ratio"])
    batch = m(out["batch"])
    full = m(out["cmp_ratio"])
    per_reading = out["disk_after"] / max(out["stored"], 1)
    mem_full = out["mem_full"]["VmRSS"] / 1024
    idle_p99 = m(out["idle_p99"])
    abuse_after = out["abuse_rows"][-1][3]
    abuse_peak = max(row[2] for row in out["abuse_rows"])
    figs = [
        Figure("ceiling: canned-200 Python server, 32 conns (req/s)", spread(out["ceiling"]),
               runs=[f"{v:,.0f}" for v in out["ceiling"]]),
        Figure("single-reading durable POSTs, 32 conns (req/s)", spread(out["single"]),
               f"≥ {T_INGEST_RATIO}× ceiling", ratio >= T_INGEST_RATIO, f"{ratio:.3f}× ceiling",
               f"{ratio:.3f}× the ceiling against ≥ {T_INGEST_RATIO}×: {ratio / T_INGEST_RATIO:.0%} of the target "
               f"({m(out['single']):,.0f} req/s vs the {T_INGEST_RATIO * m(out['ceiling']):,.0f} needed)."),
        Figure("  network layer alone (HttpServer, canned answer), 32 conns (req/s)", spread(out["net"]),
               ratio=f"{m(out['net_ratio']):.3f}× ceiling"),
        Figure("  server CPU per request: ceiling / network layer alone / monitor (µs)",
               f"{m(out['ceiling_us']):,.0f} / {m(out['net_us']):,.0f} / {m(out['single_us']):,.0f}",
               ratio=f"{m(out['single_us']) / max(m(out['ceiling_us']), 1e-9):.1f}× ceiling"),
        Figure("  its latency under load, p50 / p99 (ms)",
               f"{m(out['single_p50']):.1f} / {m(out['single_p99']):.1f}"),
        Figure("batched POSTs, 1000 readings each, 4 conns (readings/s)", spread(out["batch"]),
               f"≥ {T_BATCH_RPS:,}", batch >= T_BATCH_RPS, f"{batch / T_BATCH_RPS:.2f}× target",
               f"{batch:,.0f} readings/s against ≥ {T_BATCH_RPS:,}: {batch / T_BATCH_RPS:.0%} of the target, "
               f"{T_BATCH_RPS / max(batch, 1):.1f}× too slow."),
        Figure("preload of 1 M readings, 8 conns (readings/s)", f"{out['preload_rate']:,.0f}"),
        Figure("single-reading req/s with 1 M stored vs empty", f"{m(out['cmp_full']):,.0f} vs {m(out['cmp_empty']):,.0f}",
               f"≥ {T_FULL_RATIO}× empty", full >= T_FULL_RATIO, f"{full:.2f}× empty",
               f"{full:.2f}× the empty store's throughput against ≥ {T_FULL_RATIO}×."),
        Figure("  server CPU per request with 1 M stored vs empty (µs)",
               f"{m(out['cmp_full_us']):,.0f} vs {m(out['cmp_empty_us']):,.0f}",
               ratio=f"{m(out['cmp_full_us']) / max(m(out['cmp_empty_us']), 1e-9):.2f}×"),
        Figure("bytes on disk per reading after compaction", f"{per_reading:.2f}",
               f"≤ {T_BYTES:.0f}", per_reading <= T_BYTES, f"{per_reading / T_BYTES:.2f}× target",
               f"{per_reading:.2f} B per reading against ≤ {T_BYTES:.0f} ({per_reading - T_BYTES:+.2f} B)."),
        Figure("  bytes per reading before compaction (journal)", f"{out['disk_before'] / max(out['stored'], 1):.1f}"),
        Figure("server memory, empty (RSS MB)", f"{out['mem_empty']['VmRSS'] / 1024:.0f}"),
        Figure("server memory with 1 M readings (RSS MB; peak)", f"{mem_full:.0f}; {out['mem_full']['VmHWM'] / 1024:.0f}",
               f"≤ {T_MEMORY_MB} MB", mem_full <= T_MEMORY_MB, f"{mem_full / T_MEMORY_MB:.2f}× target",
               f"{mem_full:.0f} MB resident with 1 M readings against ≤ {T_MEMORY_MB} MB "
               f"({mem_full - T_MEMORY_MB:+.0f} MB)."),
        Figure(f"server RSS after {ABUSE_ROUNDS} rounds of {ABUSE_CONNECTIONS} stalled 4 MiB bodies (MiB)",
               f"{abuse_after:.0f} (start {out['abuse_start']:.0f}, peak {abuse_peak:.0f})",
               f"≤ {T_ABUSE_RSS:.0f}× start", abuse_after <= T_ABUSE_RSS * out["abuse_start"],
               f"{abuse_after / out['abuse_start']:.2f}× start",
               f"{abuse_after:.0f} MiB resident after the abusive clients left, {abuse_after / out['abuse_start']:.2f}× "
               f"the {out['abuse_start']:.0f} MiB at start."),
        Figure("latency, 1 client sequential, p50 / p99 (ms)", f"{m(out['lat_p50']):.2f} / {m(out['lat_p99']):.2f}"),
        Figure(f"  same with {IDLE:,} idle keep-alive conns, p50 / p99 (ms)",
               f"{m(out['idle_p50']):.2f} / {idle_p99:.2f}", f"p99 < {T_P99_MS:.0f} ms",
               idle_p99 < T_P99_MS and min(out["idle_open"]) >= IDLE,
               f"{idle_p99 / T_P99_MS:.2f}× target",
               f"p99 {idle_p99:.1f} ms against < {T_P99_MS:.0f} ms (idle connections still open at the end: "
               f"{min(out['idle_open'])} of {IDLE})."),
    ]
    if out["wrk_ceiling"]:
        figs[2:2] = [Figure("  cross-check with wrk (C load generator): ceiling vs server (req/s)",
                            f"{m(out['wrk_ceiling']):,.0f} vs {m(out['wrk_single']):,.0f}",
                            ratio=f"{m(out['wrk_ratio']):.3f}× ceiling")]
    return figs


def quartiles(values: list[float]) -> str:
    if len(values) < 4:
        return "n/a"
    q1, _, q3 = statistics.quantiles(values, n=4)
    return f"{q1:.2f}–{q3:.2f}"


def details(out: dict) -> str:
    r = lambda xs, f="{:,.0f}": ", ".join(f.format(x) for x in xs)  # noqa: E731
    return "\n".join([
        f"- Load: Python generator (bench/load.py), {LOAD_PROCESSES} processes, selector loop, keep-alive, "
        f"one request in flight per connection; {ROUNDS} interleaved rounds for the comparisons and {REPEATS} for the rest, windows of {SINGLE_S:.0f} s "
        f"(after {WARMUP_S:.0f} s warm-up) for the ceiling and single-reading runs, {COMPARE_S:.0f} s for empty vs 1 M, "
        f"{LATENCY_S:.0f} s for latency; batched runs are fixed work (bodies built before the clock).",
        f"- wrk cross-check ({'ran' if out['wrk_ceiling'] else 'skipped: wrk not installed'}): ceiling "
        f"{r(out['wrk_ceiling'])}; server {r(out['wrk_single'])}; ratios {r(out['wrk_ratio'], '{:.3f}')}.",
        f"- Warm-up (unmeasured {WARM_REQUESTS:,} single-reading POSTs before the rounds): fresh empty server "
        f"{out['cold_empty']:,.0f} req/s; 1 M server right after its batch preload {out['cold_full']:,.0f} req/s.",
        f"- Ceiling runs (req/s): {r(out['ceiling'])}; server runs: {r(out['single'])}; "
        f"per-round ratios: {r(out['single_ratio'], '{:.3f}')}.",
        f"- CPU used (cores, of {machine_info()['nproc']}): ceiling server {r(out['ceiling_cpu'], '{:.2f}')}; "
        f"monitor server under single-reading load {r(out['single_cpu'], '{:.2f}')}; under batches "
        f"{r(out['batch_cpu'], '{:.2f}')}. Load generator (all its processes): during ceiling runs "
        f"{r(out['ceiling_load_cpu'], '{:.2f}')}, during server runs {r(out['single_load_cpu'], '{:.2f}')}.",
        f"- Batched runs (readings/s): {r(out['batch'])}.",
        f"- Empty vs 1 M ({CMP_ROUNDS} rounds of {COMPARE_S:.0f} s, req/s): empty {r(out['cmp_empty'])}; "
        f"1 M {r(out['cmp_full'])}; ratios {r(out['cmp_ratio'], '{:.2f}')} (quartiles {quartiles(out['cmp_ratio'])}). "
        f"Server CPU µs per request: empty {r(out['cmp_empty_us'])}; 1 M {r(out['cmp_full_us'])}.",
        f"- Readings stored in the 1 M server at the end: {out['stored']:,} "
        f"({out['health_full'].get('leituras', '?'):,} per /saude before stopping); its /saude storage stats "
        f"then: `{out['health_full']}`.",
        f"- Compaction, done in-process on the stopped server's directory with `ReadingStore.open(dir)`, "
        f"`.compact()`, `.stats()`, `.close()`: open (replay) {out['open_s']:.1f} s, compact {out['compact_s']:.1f} s; "
        f"{out['disk_before']:,} B before, {out['disk_after']:,} B after; stats `{out['store_stats']}`.",
        f"- Memory (KiB): empty {out['mem_empty']}; after the 1 M preload {out['mem_full']}; "
        f"after the comparison runs {out['mem_end']}.",
        f"- Latency rounds p99 (ms): alone {r(out['lat_p99'], '{:.2f}')}; with idle {r(out['idle_p99'], '{:.2f}')}; "
        f"idle connections still open {r(out['idle_open'], '{}')}.",
        f"- Network layer alone (bench/net_only_server.py: HttpServer answering a canned 200) runs (req/s): "
        f"{r(out['net'])}; ratios to the ceiling {r(out['net_ratio'], '{:.3f}')}; server CPU µs per request "
        f"{r(out['net_us'])} (ceiling {r(out['ceiling_us'])}; monitor {r(out['single_us'])}).",
        f"- Memory under unfinished bodies (bench/abuse.py, a server with default limits, connections spread over "
        f"100 loopback addresses): RSS at start {out['abuse_start']:.0f} MiB; per round (outcome, peak so far, after "
        f"they left): " + "; ".join(f"{row[1]}, {row[2]:.0f}, {row[3]:.0f}" for row in out["abuse_rows"])
        + f"; /saude estado after: {out['abuse_health']}; exit code {out['abuse_exit']}.",
        f"- Server exit codes on SIGTERM: {out['exit_codes']}.",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sem-perfil", action="store_true", help="skip the profiled runs (about 40 s)")
    parser.add_argument("--rapido", action="store_true",
                        help="a quick check of the harness: 1 round, short windows, 100 k preload (figures not valid)")
    parser.add_argument("--saida", type=Path, default=BENCH / "RESULTS.md", help="where to write the results")
    args = parser.parse_args()
    if args.rapido:
        global REPEATS, ROUNDS, CMP_ROUNDS, WARM_REQUESTS, SINGLE_S, COMPARE_S, LATENCY_S, PRELOAD, ABUSE_ROUNDS
        REPEATS, ROUNDS, CMP_ROUNDS, SINGLE_S, COMPARE_S, LATENCY_S, PRELOAD, WARM_REQUESTS = 1, 1, 2, 2.0, 2.0, 2.0, 100_000, 4_000
        ABUSE_ROUNDS = 2
    files = raise_file_limit()   # before any server starts: children inherit it
    info = machine_info()
    log(f"machine: {info['nproc']} CPUs, {info['cpu']}, {info['ram']}, Python {info['python']}; "
        f"RLIMIT_NOFILE {files}; wrk {'at ' + shutil.which('wrk') + ' (a cross-check only)' if shutil.which('wrk') else 'not installed (no cross-check)'}")
    out: dict = {k: [] for k in ("ceiling", "single", "single_ratio", "single_p50", "single_p99", "ceiling_cpu",
                                 "single_cpu", "ceiling_us", "single_us", "ceiling_load_cpu", "single_load_cpu", "batch", "batch_cpu", "lat_p50", "lat_p99", "idle_p50", "idle_p99",
                                 "idle_open", "cmp_empty", "cmp_full", "cmp_ratio", "cmp_empty_us", "cmp_full_us", "wrk_ceiling",
                                 "wrk_single", "wrk_ratio", "net", "net_us", "net_ratio")}
    started = time.monotonic()
    empty = MonitorServer("vazio")
    full: MonitorServer | None = None
    try:
        empty_feeds = meters(empty, "s", CONNECTIONS)
        out["mem_empty"] = empty.memory_kib()
        warm_up(empty, empty_feeds, out, "cold_empty")
        log("1/7 single-reading POSTs vs the ceiling server and the network layer alone, interleaved")
        ingest_vs_ceiling(empty, empty_feeds, out)
        log("2/7 batches of 1000 readings")
        batch_feeds = meters(empty, "b", BATCH_CONNECTIONS)
        batched(empty, batch_feeds, out)
        log(f"3/7 latency, one sequential client, without and with {IDLE:,} idle connections")
        latency(empty, meters(empty, "l", 1)[0], out)
        log(f"4/7 memory: {ABUSE_ROUNDS} rounds of {ABUSE_CONNECTIONS} connections announcing 4 MiB bodies and stalling")
        abuse_memory(out)
        log("5/7 a second server, preloaded with 1,000,000 readings")
        full = MonitorServer("1M")
        full_feeds = meters(full, "s", PRELOAD_METERS)
        preload(full, full_feeds, out)
        out["mem_full"] = full.memory_kib()
        log(f"  memory with 1 M readings: {out['mem_full']}")
        log("6/7 single-reading POSTs, empty vs 1 M stored, interleaved")
        warm_up(full, full_feeds[:CONNECTIONS], out, "cold_full")
        empty_vs_full(empty, empty_feeds, full, full_feeds[:CONNECTIONS], out)
        out["mem_end"] = full.memory_kib()
        out["health_full"] = full.health()["armazenamento"]
    finally:
        out["exit_codes"] = {"empty": empty.stop(), "1M": full.stop() if full else None}
    log("7/7 compaction of the 1 M store, in this process")
    compact_offline(full.readings_dir, out)
    sections = []
    if not args.sem_perfil:
        log("profiling the single-reading and batched loads (cProfile in every server thread)")
        from profiling import profile_loads
        sections = profile_loads(empty, empty_feeds, batch_feeds, 4.0, 25, LOAD_PROCESSES)
    figs = figures(out)
    sections.insert(0, ("Run details", details(out)))
    print()
    print(table(figs))
    write_results(args.saida, info, figs, sections, "make bench")
    log(f"done in {time.monotonic() - started:.0f} s; results in {args.saida}")
    for d in (empty.workdir, full.workdir):  # the profiled copies are gone already
        shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
