"""kill -9 at random moments, also mid-compaction: no acknowledged reading is lost or doubled."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from servidor.store.readings import BUCKET_MS, ReadingStore

T0 = 1_700_000_000_000 - 1_700_000_000_000 % BUCKET_MS
WH_PER_READING = 3.0
ROOT = Path(__file__).resolve().parents[1]

# The child appends batches of 1-20 readings with consecutive seqs and prints the highest seq
# after each append returns: every printed seq (and all below it) was acknowledged.
CHILD = f"""
import random, sys
from pathlib import Path
from shared.models import Reading
from servidor.store.readings import ReadingStore
store = ReadingStore.open(Path(sys.argv[1]), journal_max_bytes=int(sys.argv[2]))
rng = random.Random(int(sys.argv[3]))
seq = store.max_seq("m") or 0
print("pronto", flush=True)
while True:
    n = rng.randint(1, 20)
    store.append("m", [Reading(s, {T0} + s * 10_000, s * {WH_PER_READING}) for s in range(seq + 1, seq + n + 1)])
    seq += n
    print(seq, flush=True)
"""


def run_and_kill(directory: Path, journal_max_bytes: int, rng: random.Random) -> int:
    """Start the child, SIGKILL it after a random time, return the highest acknowledged seq."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(directory), str(journal_max_bytes), str(rng.random())[2:]],
                             stdout=subprocess.PIPE, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert child.stdout.readline() == b"pronto\n"
        time.sleep(rng.uniform(0.0, 0.4))
    finally:
        child.send_signal(signal.SIGKILL)
        out = child.stdout.read()
        child.wait()
    # A line without its newline was being printed when the kill came: not seen, not counted.
    complete = [line for line in out.split(b"\n")[:-1] if line]
    return int(complete[-1]) if complete else 0


@pytest.mark.slow
@pytest.mark.parametrize("journal_max_bytes", [4096, 64 * 2**20], ids=["compacting", "one-journal"])
def test_kill_at_random_moments_loses_no_acknowledged_reading_and_doubles_none(tmp_path, journal_max_bytes):
    rng = random.Random(journal_max_bytes)
    acknowledged = 0
    for _ in range(5):
        acknowledged = max(acknowledged, run_and_kill(tmp_path, journal_max_bytes, rng))
        with ReadingStore.open(tmp_path, durable=False) as store:
            seqs = [r.seq for r in store.after_seq("m", 0, limit=10**7)]
            count = store.count("m")
            assert seqs == list(range(1, count + 1))  # each stored once, none missing below the top
            assert count >= acknowledged
            assert [r.seq for r, _ in store.readings("m", limit=10**7)] == seqs
            wh, _ = store.energy("m", T0, T0 + 400 * 86_400_000)
            assert wh == pytest.approx((count - 1) * WH_PER_READING)
    assert acknowledged > 0
