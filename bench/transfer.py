"""Benchmark: `servidor importar` of 1 M readings from CSV (target ≥ 100,000 readings/s), and export.

`.venv/bin/python bench/transfer.py` writes a CSV of 1,000,000 readings (10 meters × 100,000
one-minute readings, in the format `servidor exportar` writes: ISO time with offset, counter,
power), then, each run into a fresh server's files (meters created through the API):
  - import: `import_csv` into a durable readings store, as the command does (parse, validate,
    batches of 50,000, one journal write + fsync each, rollups kept);
  - re-import of the same file into the same store (every reading a duplicate: nothing added);
  - export of the imported readings back to CSV;
and once, the command end to end in a subprocess (`python -m servidor importar`, interpreter
start and store open included). Medians of the runs; the figures go into bench/RESULTS.md,
inside the notes section (which `make bench` keeps), between transfer markers.
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from report import NOTES_BEGIN, NOTES_END, machine_info  # noqa: E402  (bench/ is on sys.path)

from servidor.app import App, Settings, readings_dir  # noqa: E402
from servidor.domain.readings_csv import HEADER, export_csv, format_row, meters_by_id  # noqa: E402
from servidor.domain.readings_import import import_csv  # noqa: E402
from servidor.store.documents import DocumentStore  # noqa: E402
from servidor.store.readings import ReadingStore  # noqa: E402
from shared.http.messages import Request  # noqa: E402
from shared.models import Reading  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

TARGET_PER_S = 100_000
METERS = 10
PER_METER = 100_000
START_MS = 1_767_236_400_000  # 2026-01-01T00:00:00-03:00
BEGIN = "<!-- transfer: written by bench/transfer.py -->"
END = "<!-- /transfer -->"
ADMIN = "admin-do-bench"
TZ = ZoneInfo("America/Sao_Paulo")


def load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def write_csv(path: Path) -> None:
    import csv
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADER)
        for m in range(METERS):
            energy = 1000.0 * m
            for i in range(PER_METER):
                energy += 1.0 + (i * 7919) % 53 / 10
                reading = Reading(i + 1, START_MS + i * 60_000, round(energy, 1), float(100 + (i * 31) % 3000))
                writer.writerow(format_row(f"m{m:02d}", reading, TZ))


def fresh_server(db: Path) -> None:
    """A server's files with the ten meters and no readings, made through the API."""
    app = App(DocumentStore.open(db), ReadingStore.open(readings_dir(db), durable=False),
              Settings(admin_key=ADMIN, registration_key="registro-do-bench", webhooks=False), announce=lambda _: None)
    try:
        headers = (("authorization", f"Bearer {ADMIN}"), ("content-type", "application/json"))
        for m in range(METERS):
            body = f'{{"id": "m{m:02d}", "nome": "m{m:02d}"}}'.encode()
            assert app.handle(Request("POST", "/api/v1/medidores", headers=headers, body=body)).status == 201
    finally:
        app.close()


def one_run(csv_path: Path, tmp: Path, n: int) -> tuple[float, float, float, float, int]:
    """(import s, import CPU s, re-import s, export s, readings stored) into fresh files."""
    db = tmp / f"run{n}" / "db.json"
    db.parent.mkdir()
    fresh_server(db)
    docs = DocumentStore.open(db)
    store = ReadingStore.open(readings_dir(db))  # durable, as the command opens it
    try:
        meters = meters_by_id(docs)
        size = csv_path.stat().st_size
        cpu0, t0 = time.process_time(), time.perf_counter()
        with csv_path.open(encoding="utf-8", newline="") as source:
            report = import_csv(source, meters, store, size=size)
        t1, cpu1 = time.perf_counter(), time.process_time()
        assert report.novas == METERS * PER_METER, report
        with csv_path.open(encoding="utf-8", newline="") as source:
            again = import_csv(source, meters, store, size=size)
        t2 = time.perf_counter()
        assert again.novas == 0 and again.duplicadas == METERS * PER_METER, again
        sink = io.StringIO()
        written = export_csv(sink, sorted(meters.values(), key=lambda m: m.id), store)
        t3 = time.perf_counter()
        assert written == METERS * PER_METER
        stored = int(store.stats()["leituras"])
    finally:
        store.close()
        docs.close()
    return t1 - t0, cpu1 - cpu0, t2 - t1, t3 - t2, stored


def end_to_end(csv_path: Path, tmp: Path) -> tuple[float, str]:
    db = tmp / "cli" / "db.json"
    db.parent.mkdir()
    fresh_server(db)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "servidor", "importar", str(csv_path), "--db", str(db), "--silencioso"],
                          capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parent.parent)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    return elapsed, done.stdout.splitlines()[0]


def fmt_rate(seconds: list[float], n: int) -> str:
    rates = [n / s for s in seconds]
    return (f"{statistics.median(rates):,.0f} readings/s ({statistics.median(seconds):.2f} s; "
            f"min {min(rates):,.0f}, max {max(rates):,.0f}, n={len(rates)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--saida", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    args = parser.parse_args()
    total = METERS * PER_METER
    load_before = load_average()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        csv_path = tmp / "leituras.csv"
        write_csv(csv_path)
        size_mb = csv_path.stat().st_size / 2**20
        runs = [one_run(csv_path, tmp, n) for n in range(args.runs)]
        cli_s, cli_line = end_to_end(csv_path, tmp)
    load_after = load_average()
    imports = [r[0] for r in runs]
    rate = total / statistics.median(imports)
    info = machine_info()
    lines = [
        BEGIN,
        "### Import and export of readings as CSV (bench/transfer.py)",
        "",
        f"Run on {info['date']}: {info['nproc']} CPUs ({info['cpu']}), {info['ram']} RAM, Python {info['python']}, "
        f"kernel {info['kernel']}; shared, noisy machine (1-min load average {load_before} before, {load_after} after, "
        f"on {info['nproc']} CPUs), so medians of {args.runs} runs, each into a fresh server's files.",
        f"Input: {total:,} readings ({METERS} meters × {PER_METER:,} one-minute readings), {size_mb:.0f} MiB of CSV "
        "as `servidor exportar` writes it (ISO time with offset, counter, power); durable store (fsync per batch).",
        "",
        "| figure | median |",
        "|---|---|",
        f"| **import of 1 M readings** (target ≥ {TARGET_PER_S:,}/s) | **{fmt_rate(imports, total)}** — "
        f"{'met' if rate >= TARGET_PER_S else 'MISSED'}, {rate / TARGET_PER_S:.2f}× the target |",
        f"| ↳ CPU time of the import (this process only) | {fmt_rate([r[1] for r in runs], total)} |",
        f"| re-import of the same file (all duplicates, nothing stored) | {fmt_rate([r[2] for r in runs], total)} |",
        f"| export of the 1 M readings to CSV | {fmt_rate([r[3] for r in runs], total)} |",
        f"| `python -m servidor importar` end to end, once (interpreter, store open, import) | "
        f"{total / cli_s:,.0f} readings/s ({cli_s:.2f} s) |",
        "",
        f"The command's own summary: `{cli_line}`",
        END,
    ]
    block = "\n".join(lines)
    print(block)
    _write(args.saida, block)
    return 0 if rate >= TARGET_PER_S else 1


def _write(path: Path, block: str) -> None:
    """Replace the transfer block inside the kept notes (so `make bench` keeps it), or add it."""
    text = path.read_text() if path.exists() else f"# Benchmark results\n\n## Notes\n\n{NOTES_BEGIN}\n{NOTES_END}\n"
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    elif NOTES_END in text:
        text = text.replace(NOTES_END, f"\n{block}\n{NOTES_END}", 1)
    else:
        text = text.rstrip("\n") + f"\n\n{block}\n"
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
