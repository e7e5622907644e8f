"""A cross-check with wrk (Debian package `wrk`), where installed: the same 32-connection
single-reading load from a load generator written in C.

The Python generator spends CPU that, on a 2-core machine, the server under test would
otherwise have; wrk spends far less. Its figures are reported beside the Python ones, never
instead of them: targets are judged on the generator that runs everywhere.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from feed import HISTORY_MS, STEP_MS

# wrk's Lua: each thread cycles over its own meters, so one meter's requests are `per_thread`
# requests apart and (with one request in flight per connection) reach the server in order.
_SCRIPT = """
local keys = {{{keys}}}
local per_thread = {per_thread}
local t0 = {t0}
local next_thread = 0
function setup(thread)
  thread:set("first", next_thread * per_thread)
  next_thread = next_thread + 1
end
local counter = 0
function request()
  local m = first + (counter % per_thread)
  local seq = math.floor(counter / per_thread) + {first_seq}
  counter = counter + 1
  local body = string.format('{{"seq":%d,"ts":%d,"energia_wh":%d.%03d,"potencia_w":%d.5}}',
    seq, t0 + seq * {step}, seq, seq % 1000, 300 + seq % 200)
  return wrk.format("POST", "/api/v1/medidores/" .. keys[m + 1][1] .. "/leituras",
    {{["Authorization"] = "Bearer " .. keys[m + 1][2], ["Content-Type"] = "application/json"}}, body)
end
"""
_RATE = re.compile(r"Requests/sec:\s*([\d.]+)")
_LATENCY = re.compile(r"^\s*(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s*(\d+)")


def available() -> str | None:
    return shutil.which("wrk")


def run_wrk(host: str, port: int, meters: list[tuple[str, str]], seconds: float, first_seq: int,
            now_ms: int, threads: int = 2) -> dict:
    """wrk -t threads -c len(meters) for `seconds`; requests/s, p50/p99 ms and non-2xx count."""
    keys = ",".join(f'{{"{mid}","{key}"}}' for mid, key in meters)
    script = _SCRIPT.format(keys=keys, per_thread=len(meters) // threads, t0=now_ms - HISTORY_MS,
                            first_seq=first_seq, step=STEP_MS)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        done = subprocess.run(
            ["wrk", "-t", str(threads), "-c", str(len(meters)), "-d", f"{seconds:.0f}s", "--latency",
             "-s", f.name, f"http://{host}:{port}/"],
            capture_output=True, text=True, timeout=seconds + 60)
    finally:
        Path(f.name).unlink()
    text = done.stdout
    rate = _RATE.search(text)
    latency = {p: float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[u] for p, v, u in _LATENCY.findall(text)}
    bad = _NON_2XX.search(text)
    return {
        "rps": float(rate.group(1)) if rate else 0.0,
        "p50": latency.get("50", float("nan")),
        "p99": latency.get("99", float("nan")),
        "non_2xx": int(bad.group(1)) if bad else 0,
        "error": "" if rate else (done.stderr or text)[-300:],
    }
