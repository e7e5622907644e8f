"""Benchmark: 12 cycles of "which tariff?" for a meter with a year of 15-minute data.

`.venv/bin/python bench/billing.py` builds a year of synthetic 15-minute consumption (35,040
float kWh values, as the readings store hands them over), then times, in one process:
  - floor: summing those floats once (the least any computation over the year must do);
  - the profile (intervals → local quarter hours, Decimal) and the 12-cycle comparison
    (convencional vs Branca, every cycle billed in full, hours attributed);
  - the same question through the API, end to end in one process: the year stored as 15-minute
    readings in a real readings store, then `GET /api/v1/medidores/{id}/comparar-tarifas?ciclos=12`
    handed to `App.handle` (routing, key, reading the rollups quarter hour by quarter hour, the
    comparison under every tariff in the book, JSON), against the engine alone in the same run.
The first comparison in a process also loads the `holidays` data; it is reported apart (cold).
Target: profile + comparison under 0.5 s (median of the warm runs). The figures go into
bench/RESULTS.md, inside the notes section (which `make bench` keeps), between billing markers.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from report import NOTES_BEGIN, NOTES_END, machine_info  # noqa: E402  (bench/ is on sys.path)

from servidor.billing.comparison import compare_tariffs  # noqa: E402
from servidor.billing.cycles import closed_cycles  # noqa: E402
from servidor.billing.examples import EXAMPLE_BRANCA, EXAMPLE_CONVENCIONAL  # noqa: E402
from servidor.billing.tariff_flags import EXAMPLE_FLAGS  # noqa: E402
from servidor.billing.usage import profile_from_intervals  # noqa: E402
from servidor.app import App, Settings, readings_dir  # noqa: E402
from servidor.store.documents import DocumentStore  # noqa: E402
from servidor.store.readings import ReadingStore  # noqa: E402
from shared.http.messages import Request  # noqa: E402
from shared.models import Reading  # noqa: E402

TZ = ZoneInfo("America/Sao_Paulo")
QUARTER_MS = 900_000
TARGET_S = 0.5
BEGIN = "<!-- billing: written by bench/billing.py -->"
END = "<!-- /billing -->"


def household_year(cycles, seed: int = 13) -> list[tuple[int, int, float]]:
    """A household: base load, a morning and an evening peak (shower, cooking), afternoon air
    conditioning in the warm months, weekends later and flatter; noise on every quarter hour."""
    rng = random.Random(seed)
    start, end = cycles[0].bounds_ms(TZ)[0], cycles[-1].bounds_ms(TZ)[1]
    intervals = []
    for ts in range(start, end, QUARTER_MS):
        local = (ts - start) / 3_600_000 % 24
        day = (ts - start) // 86_400_000
        weekend = (cycles[0].primeiro_dia.weekday() + day) % 7 >= 5
        kw = 0.18 + 0.9 * math.exp(-((local - (9 if weekend else 7)) ** 2) / 1.5)
        kw += (1.6 if weekend else 2.4) * math.exp(-((local - 19.5) ** 2) / 2.0)
        kw += 0.8 * max(0.0, math.cos(2 * math.pi * day / 365)) * math.exp(-((local - 15) ** 2) / 6)
        kw *= rng.uniform(0.7, 1.3)
        intervals.append((ts, ts + QUARTER_MS, round(kw / 4, 4)))  # kWh in 15 minutes
    return intervals


def load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def timed(function, runs: int, clock=time.perf_counter) -> list[float]:
    times = []
    for _ in range(runs):
        start = clock()
        function()
        times.append(clock() - start)
    return times


def fmt(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:,.1f} ms (min {min(values) * 1000:,.1f}, max {max(values) * 1000:,.1f}, n={len(values)})"


ADMIN = "chave-admin-do-bench"


def api_path(runs: int) -> tuple[list[float], list[float], list[float], dict, int]:
    """(wall s, CPU s of App.handle, wall s of the engine alone on the same readings, the answer,
    readings stored) for comparar-tarifas over the 12 cycles closed before today."""
    today = date.today()
    cycles = closed_cycles(today, 12, dia_leitura=10)
    intervals = household_year(cycles)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "db.json"
        app = App(DocumentStore.open(db), ReadingStore.open(readings_dir(db), durable=False),
                  Settings(admin_key=ADMIN, registration_key="registro-do-bench"), announce=lambda _: None)
        try:
            headers = (("authorization", f"Bearer {ADMIN}"), ("content-type", "application/json"))
            body = b'{"id": "casa", "tarifa": "convencional", "ligacao": "bifasica", "dia_leitura": 10}'
            assert app.handle(Request("POST", "/api/v1/medidores", headers=headers, body=body)).status == 201
            energy, readings = 0.0, []
            for seq, (start, _, kwh) in enumerate(intervals):
                readings.append(Reading(seq, start, round(energy, 3)))
                energy += kwh * 1000
            readings.append(Reading(len(intervals), intervals[-1][1], round(energy, 3)))
            for i in range(0, len(readings), 5000):
                # Straight to the store: the ingest path is bench/app_path.py's, not measured here.
                app._store.append("casa", readings[i:i + 5000])
            request = Request("GET", "/api/v1/medidores/casa/comparar-tarifas?ciclos=12", headers=headers)
            first = app.handle(request)
            assert first.status == 200, first.body
            answer = json.loads(first.body)
            wall, cpu = [], []
            for _ in range(runs):
                cpu_start, start = time.process_time(), time.perf_counter()
                app.handle(request)
                wall.append(time.perf_counter() - start)
                cpu.append(time.process_time() - cpu_start)
            plans = [app.services.tariffs.get(t["id"]) for t in answer["tarifas"]]
            engine = timed(lambda: compare_tariffs(plans, cycles, profile_from_intervals(TZ, intervals), EXAMPLE_FLAGS,
                                                   "bifasica"), runs)
        finally:
            app.close()
    return wall, cpu, engine, answer, len(readings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--saida", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    args = parser.parse_args()
    cycles = closed_cycles(date(2026, 11, 30), 12, dia_leitura=10)
    intervals = household_year(cycles)
    plans = [EXAMPLE_CONVENCIONAL, EXAMPLE_BRANCA]

    def comparison(profile=None):
        profile = profile or profile_from_intervals(TZ, intervals)
        return compare_tariffs(plans, cycles, profile, EXAMPLE_FLAGS, "bifasica")

    load_before = load_average()
    cold_start = time.perf_counter()
    result = comparison()
    cold = time.perf_counter() - cold_start
    floor = timed(lambda: sum(kwh for _, _, kwh in intervals), args.runs)
    # Each round times its two phases back to back, wall clock and this process's CPU time (what
    # the computation costs with the other helpers' load taken out).
    profile_wall, compare_wall, whole, cpu = [], [], [], []
    for _ in range(args.runs):
        cpu_start, start = time.process_time(), time.perf_counter()
        profile = profile_from_intervals(TZ, intervals)
        middle = time.perf_counter()
        comparison(profile)
        end, cpu_end = time.perf_counter(), time.process_time()
        profile_wall.append(middle - start)
        compare_wall.append(end - middle)
        whole.append(end - start)
        cpu.append(cpu_end - cpu_start)
    median = statistics.median(whole)
    api_wall, api_cpu, api_engine, answer, stored = api_path(args.runs)
    api_median = statistics.median(api_wall)
    load_after = load_average()
    info = machine_info()
    lines = [
        BEGIN,
        "### Billing: 12 cycles of tariff comparison (bench/billing.py)",
        "",
        f"Run on {info['date']}: {info['nproc']} CPUs ({info['cpu']}), {info['ram']} RAM, Python {info['python']}, "
        f"kernel {info['kernel']}; shared, noisy machine (1-min load average {load_before} before, {load_after} "
        f"after, on {info['nproc']} CPUs), so medians of {args.runs} runs in one process.",
        f"Input: {len(intervals):,} quarter hours ({cycles[0].primeiro_dia} to {cycles[-1].ultimo_dia}, "
        f"{len(cycles)} cycles, dia_leitura 10), floats as the store hands them over; tariffs "
        f"{', '.join(p.id for p in plans)} (servidor/billing/examples.py), bifásica, example bandeiras.",
        "",
        "| figure | median (min, max, n) |",
        "|---|---|",
        f"| **profile + 12-cycle comparison** (target < {TARGET_S * 1000:.0f} ms) | **{fmt(whole)}** — "
        f"{'met' if median < TARGET_S else 'MISSED'}, {median / TARGET_S:.2f}× the target |",
        f"| ↳ the profile (intervals → Decimal quarter hours) | {fmt(profile_wall)} |",
        f"| ↳ the comparison (12 cycles × 2 tariffs billed, hours attributed) | {fmt(compare_wall)} |",
        f"| CPU time of profile + comparison (this process only; less sensitive to the shared machine's load) | {fmt(cpu)} |",
        f"| first comparison in the process (loads the holidays data) | {cold * 1000:,.1f} ms |",
        f"| baseline: sum of the 35,040 floats once | {fmt(floor)}; the comparison takes {median / statistics.median(floor):,.0f}× this |",
        "",
        f"Through the API, end to end in one process: {stored:,} 15-minute readings (the 12 cycles closed before "
        f"today, dia_leitura 10) in a real readings store, `GET /api/v1/medidores/casa/comparar-tarifas?ciclos=12` "
        f"given to `App.handle`, {len(answer['tarifas'])} tariffs in the book "
        f"({', '.join(t['id'] for t in answer['tarifas'])}):",
        "",
        "| figure | median (min, max, n) |",
        "|---|---|",
        f"| **comparar-tarifas through App.handle** (target < {TARGET_S * 1000:.0f} ms) | **{fmt(api_wall)}** — "
        f"{'met' if api_median < TARGET_S else 'MISSED'}, {api_median / TARGET_S:.2f}× the target |",
        f"| ↳ CPU time of the same requests | {fmt(api_cpu)} |",
        f"| baseline, same run: the engine alone on the same data and tariffs (profile + comparison) | "
        f"{fmt(api_engine)}; the API path takes {api_median / statistics.median(api_engine):.2f}× this |",
        "",
        f"Result on this data: {result.conclusao}; hours explained all but "
        f"{abs(result.diferencas_outros[1])} of the {abs(result.diferencas[1])} difference.",
        END,
    ]
    block = "\n".join(lines)
    print(block)
    _write(args.saida, block)
    return 0 if median < TARGET_S and api_median < TARGET_S else 1


def _write(path: Path, block: str) -> None:
    """Replace the billing block inside the kept notes (so `make bench` keeps it), or add it."""
    text = path.read_text() if path.exists() else f"# Benchmark results\n\n## Notes\n\n{NOTES_BEGIN}\n{NOTES_END}\n"
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    elif NOTES_END in text:
        text = text.replace(NOTES_END, f"\n{block}\n{NOTES_END}", 1)
    else:
        text += f"\n{block}\n"
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
