"""In-process readings-store benchmark: this checkout against a baseline commit, same run.

    .venv/bin/python bench/store_ingest.py [--baseline main] [--rounds 5] [--out bench/RESULTS-store.md]

Each round runs, in a fresh subprocess per variant (the two in alternating order, so both
see the same machine load), three measurements on a durable store (every fsync made)
in a temporary directory on the disk that holds /tmp:

- batched ingest: 4 threads, each appending batches of 1,000 readings to its own meter;
- single-reading ingest: 16 threads appending one reading per call (group commit at work);
- CPU per append: process time of a single-reading append without fsync, best of 10 × 20,000;
- replay: opening a store whose journal holds 200,000 single-reading records.

The baseline is exported with `git archive` into a temporary directory: nothing in the
repository changes. Figures are medians over the rounds, with min-max; ratios are
candidate / baseline per round, then their median.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The measurement, run by each variant's interpreter with that variant on sys.path. It uses
# only the API both versions share (ReadingStore.open, append, close).
CHILD = r"""
import json, sys, tempfile, threading, time
from pathlib import Path
from shared.models import Reading
from servidor.store.readings import ReadingStore

T0 = 1_700_000_000_000

def timed_threads(threads, run):
    # Seconds for `threads` threads to each finish run(k), started together.
    barrier = threading.Barrier(threads + 1)
    def body(k):
        barrier.wait()
        run(k)
    pool = [threading.Thread(target=body, args=(k,)) for k in range(threads)]
    for t in pool: t.start()
    barrier.wait(); start = time.perf_counter()
    for t in pool: t.join()
    return time.perf_counter() - start

def batched(directory, threads=4, batches=60, size=1000):
    store = ReadingStore.open(directory)
    work = [[[Reading(s, T0 + s * 10_000, s * 2.0, 700.0) for s in range(b * size, (b + 1) * size)]
             for b in range(batches)] for _ in range(threads)]
    def run(k):
        for chunk in work[k]:
            store.append(f"m{k}", chunk)
    cpu = time.process_time()
    elapsed = timed_threads(threads, run)
    cpu = time.process_time() - cpu
    store.close()
    return threads * batches * size / elapsed, cpu / (threads * batches * size) * 1e6

def single(directory, threads=16, per_thread=300):
    store = ReadingStore.open(directory)
    def run(k):
        for s in range(per_thread):
            store.append(f"s{k}", [Reading(s, T0 + s * 10_000, s * 2.0, 700.0)])
    elapsed = timed_threads(threads, run)
    store.close()
    return threads * per_thread / elapsed

def cpu_per_append(directory, chunks=10, n=20_000):
    # Process CPU time, not wall time, and the best of several chunks: the store's own cost
    # per call, which the noise of a shared machine and the fsync waits above both hide.
    readings = [Reading(s, T0 + s * 10_000, s * 2.0, 700.0) for s in range(chunks * n)]
    best = float("inf")
    with ReadingStore.open(directory, durable=False) as store:
        for c in range(chunks):
            start = time.process_time()
            for reading in readings[c * n:(c + 1) * n]:
                store.append("m", [reading])
            best = min(best, (time.process_time() - start) / n * 1e6)
    return best

def replay(directory, n=200_000):
    with ReadingStore.open(directory, durable=False) as store:
        for s in range(n):
            store.append(f"r{s % 20}", [Reading(s, T0 + s * 10_000, s * 2.0, 700.0)])
    start = time.perf_counter()
    ReadingStore.open(directory, durable=False).close()
    return time.perf_counter() - start

out = {}
for name, fn in (("batched", batched), ("single", single), ("cpu", cpu_per_append), ("replay", replay)):
    with tempfile.TemporaryDirectory(prefix="bench-store-", dir="/tmp") as d:
        out[name] = fn(Path(d))
out["batched"], out["batched_cpu"] = out["batched"]
print(json.dumps(out))
"""


def export(ref: str, into: Path) -> None:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)


def measure(root: Path) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=root, check=True, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    return json.loads(done.stdout)


def spread(values: list[float], fmt: str) -> str:
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))}, n={len(values)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="main")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS-store.md")
    args = parser.parse_args()
    head, base_rev = (subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", ref], capture_output=True,
                                     text=True).stdout.strip() for ref in ("HEAD", args.baseline))
    runs: dict[str, list[dict[str, float]]] = {"baseline": [], "candidate": []}
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
        export(args.baseline, Path(tmp))
        for r in range(args.rounds):
            order = [("baseline", Path(tmp)), ("candidate", ROOT)]
            for variant, root in (order if r % 2 == 0 else order[::-1]):
                runs[variant].append(measure(root))
            print(f"rodada {r + 1}: {runs['baseline'][-1]} | {runs['candidate'][-1]}", flush=True)

    def col(variant: str, key: str) -> list[float]:
        return [run[key] for run in runs[variant]]

    def ratios(key: str) -> list[float]:
        return [c / b for b, c in zip(col("baseline", key), col("candidate", key), strict=True)]

    rows = [("batched ingest, 4 threads × batches of 1,000 (readings/s)", "batched", "{:,.0f}"),
            ("↳ CPU of the process per reading in that run (µs)", "batched_cpu", "{:.2f}"),
            ("single-reading ingest, 16 threads (appends/s)", "single", "{:,.0f}"),
            ("CPU per single-reading append, 1 thread, no fsync (µs)", "cpu", "{:.1f}"),
            ("replay of 200,000 single-reading records at open (s)", "replay", "{:.2f}")]
    lines = [
        "# Readings store benchmark (in-process)",
        "",
        f"Produced by `bench/store_ingest.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
        f"baseline `{args.baseline}` ({base_rev}) against this checkout ({head}), {args.rounds} interleaved rounds, "
        "durable store (every fsync made) on the disk holding /tmp.",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, kernel {platform.release()}; "
        "2 shared, noisy cores: compare the ratios, not the absolute figures.",
        "",
        "Ratio = this checkout / baseline, per round, then the median: above 1 is better for rates, below 1 for "
        "times and CPU.",
        "",
        "| figure | baseline | this checkout | ratio (median of rounds) |",
        "|---|---|---|---|",
    ]
    for label, key, fmt in rows:
        lines.append(f"| {label} | {spread(col('baseline', key), fmt)} | {spread(col('candidate', key), fmt)} | "
                     f"{statistics.median(ratios(key)):.2f}× |")
    lines += ["", "Rounds (baseline | this checkout):", ""]
    lines += [f"- {json.dumps(b)} | {json.dumps(c)}" for b, c in zip(runs["baseline"], runs["candidate"], strict=True)]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
