"""A bad half hour, compressed into a few minutes (issue 8): does anything acknowledged get lost?

`python bench/soak.py [--duracao 180] [--medidores 16] [--abusivas 500] [--saida FILE]` starts
`python -m servidor` (default limits, per-client limits on) with its files on a small tmpfs, and
for `--duracao` seconds runs at once:

- honest agents: one thread per meter, each from its own loopback address, POSTing a batch of
  fifty 10-s readings every 0.25 s (2,000× real time: the run carries days of readings),
  retrying a batch until it is acknowledged, as `medidor` does;
- abusive connections (from 100 other loopback addresses) during the first ~45 %: bodies
  announced as 4 MiB and stalled, headers sent a byte a second, pipelined GETs never read, and
  keep-alives fed whitespace; the server closing them only makes them come back;
- the disk filling up (a ballast file takes every free byte of the tmpfs) and freeing again;
- `kill -9` of the server three times, each followed by a restart on the same files.

At the end it reads every meter's readings back and checks that each acknowledged reading is
present exactly once; it reports the RSS of the first server process before the abuse, at its
peak and after the abusers left (target: back under 2× the start), and the honest clients' p50/p99
latency per phase. Needs root for the tmpfs; without it the disk phase is skipped and says so.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from abusers import Abusers  # noqa: E402
from feed import MeterFeed  # noqa: E402
from servers import ServerProcess  # noqa: E402

ADMIN = "chave-admin-do-soak-0123456789"
BATCH = 50                      # readings per POST: 500 s of a 10-s meter
TMPFS_BYTES = 192 * 2**20       # room for the run's journal (~35 B/reading) with a margin
# An accelerated agent: 50 readings of 10 s (500 s of meter time) every 0.25 s is 2,000× real
# time, so the run's few minutes carry days of readings without the data alone (kept in memory
# as columns) swamping the RSS comparison.
PACE_S = 0.25
RETRY_PAUSE_S = 0.2             # an agent's pause after a refusal or a dropped connection
REQUEST_TIMEOUT_S = 30.0
# The timeline, as fractions of --duracao.
ABUSE = (0.05, 0.45)
DISK_FULL = (0.50, 0.60)
KILLS = (0.68, 0.78, 0.88)


class Server:
    """The server process, restarted on the same files after each kill; `address` follows it."""

    def __init__(self, folder: Path, logs: Path) -> None:
        self.db = folder / "db.json"
        self.logs = logs
        self.starts = 0
        self.lock = threading.Lock()
        self.process = self._start()

    def _start(self) -> ServerProcess:
        self.starts += 1
        (self.logs / f"processo-{self.starts}").mkdir()
        argv = [sys.executable, "-m", "servidor", "--porta", "0", "--db", str(self.db), "--log-level", "WARNING"]
        return ServerProcess(f"soak-{self.starts}", argv, {"MONITOR_CHAVE_ADMIN": ADMIN},
                             workdir=self.logs / f"processo-{self.starts}")

    @property
    def address(self) -> tuple[str, int]:
        with self.lock:
            return self.process.host, self.process.port

    def kill_and_restart(self) -> float:
        """kill -9, start again on the same files; seconds until the new process listens."""
        with self.lock:
            self.process.proc.kill()
            self.process.proc.wait()
            started = time.monotonic()
            self.process = self._start()
            return time.monotonic() - started

    def rss_mib(self) -> float:
        return self.process.memory_kib()["VmRSS"] / 1024

    def call(self, method: str, path: str, body: object = None, key: str = ADMIN) -> tuple[int, dict]:
        host, port = self.address
        conn = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT_S)
        try:
            conn.request(method, path, json.dumps(body) if body is not None else None,
                         {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
            answer = conn.getresponse()
            data = answer.read()
            return answer.status, json.loads(data) if data else {}
        finally:
            conn.close()


class Agent(threading.Thread):
    """One honest meter: POST the next batch; on anything but an acknowledgement, retry it."""

    def __init__(self, server: Server, feed: MeterFeed, source: str, stop: threading.Event, phase) -> None:
        super().__init__(name=f"agente-{feed.meter_id}", daemon=True)
        self.server, self.feed, self.source, self.stop_event, self.phase = server, feed, source, stop, phase
        self.acknowledged: list[int] = []          # seqs the server said it stored
        self.latencies: dict[str, list[float]] = {}
        self.refusals: dict[str, int] = {}
        self.conn: http.client.HTTPConnection | None = None
        self.address: tuple[str, int] | None = None

    def _connection(self) -> http.client.HTTPConnection:
        address = self.server.address
        if self.conn is None or address != self.address:
            if self.conn is not None:
                self.conn.close()
            self.conn = http.client.HTTPConnection(*address, timeout=REQUEST_TIMEOUT_S, source_address=(self.source, 0))
            self.address = address
        return self.conn

    def run(self) -> None:
        path = f"/api/v1/medidores/{self.feed.meter_id}/leituras"
        headers = {"Authorization": f"Bearer {self.feed.key}", "Content-Type": "application/json"}
        while not self.stop_event.wait(PACE_S):
            first = self.feed.seq
            body = self.feed.body(BATCH)
            while not self.stop_event.is_set():
                phase = self.phase()
                started = time.perf_counter()
                try:
                    conn = self._connection()
                    conn.request("POST", path, body, headers)
                    answer = conn.getresponse()
                    answer.read()
                    status = answer.status
                except (OSError, http.client.HTTPException) as exc:
                    status = type(exc).__name__
                    if self.conn is not None:
                        self.conn.close()
                    self.conn = None
                if status == 200:
                    self.latencies.setdefault(phase, []).append((time.perf_counter() - started) * 1000)
                    self.acknowledged.extend(range(first, first + BATCH))
                    break
                key = f"{phase}:{status}"
                self.refusals[key] = self.refusals.get(key, 0) + 1
                time.sleep(RETRY_PAUSE_S)
        if self.conn is not None:
            self.conn.close()


def stored_seqs(server: Server, meter_id: str, key: str) -> list[int]:
    seqs: list[int] = []
    path = f"/api/v1/medidores/{meter_id}/leituras?limite=10000"
    while path:
        status, body = server.call("GET", path, key=key)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body}")
        seqs.extend(r["seq"] for r in body["leituras"])
        path = body.get("proxima_pagina")
    return seqs


def mount_tmpfs(folder: Path) -> bool:
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(folder)], capture_output=True)
    return done.returncode == 0


def fill(folder: Path) -> int:
    """Take every free byte of the tmpfs with a ballast file; how many bytes it took."""
    taken = 0
    with open(folder / "lastro", "ab", buffering=0) as ballast:
        chunk = bytes(1 << 20)
        while chunk:
            try:
                taken += ballast.write(chunk)
            except OSError:
                chunk = chunk[:len(chunk) // 2]
    return taken


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def run(duration: float, meters: int, abusive: int) -> list[str]:
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    disk = work / "disco"
    disk.mkdir()
    mounted = mount_tmpfs(disk)
    try:
        server = Server(disk, work)
    except BaseException:
        subprocess.run(["umount", "-l", str(disk)], check=False)
        raise
    lines = [f"# Soak: {duration:.0f} s, {meters} honest meters, {abusive} abusive connections",
             "", f"Machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load before "
             f"{os.getloadavg()[0]:.1f}; files on {'a tmpfs of %d MiB' % (TMPFS_BYTES >> 20) if mounted else 'the ordinary disk (not root: no full-disk phase)'}.", ""]
    events: list[str] = []
    try:
        keys = {}
        for i in range(meters):
            status, body = server.call("POST", "/api/v1/medidores", {"id": f"soak{i}", "nome": f"soak {i}"})
            assert status == 201, body
            keys[f"soak{i}"] = (body["chave_escrita"], body["chave_leitura"])
        rss_start = server.rss_mib()
        started = time.monotonic()
        phase_of = lambda: _phase((time.monotonic() - started) / duration)  # noqa: E731
        stop = threading.Event()
        agents = [Agent(server, MeterFeed.new(m, w), f"127.0.1.{i + 1}", stop, phase_of)
                  for i, (m, (w, _)) in enumerate(keys.items())]
        for agent in agents:
            agent.start()
        abusers = Abusers(lambda: server.address, abusive)
        rss_peak = rss_start
        rss_after_abuse = None
        schedule = sorted([(ABUSE[0], "abuse on"), (ABUSE[1], "abuse off"), (DISK_FULL[0], "disk full"),
                           (DISK_FULL[1], "disk free")] + [(k, "kill") for k in KILLS])
        for at, what in schedule:
            while (time.monotonic() - started) / duration < at:
                if server.starts == 1:
                    rss_peak = max(rss_peak, server.rss_mib())
                time.sleep(0.5)
            if what == "abuse on":
                abusers.start()
            elif what == "abuse off":
                opened = abusers.stop()
                time.sleep(3)   # let the server notice every close
                rss_after_abuse = server.rss_mib()
                events.append(f"abusers stopped after opening {opened:,} connections; RSS {rss_after_abuse:.0f} MiB")
            elif what == "disk full" and mounted:
                events.append(f"disk filled: ballast of {fill(disk) / 2**20:.1f} MiB")
            elif what == "disk free" and mounted:
                (disk / "lastro").unlink(missing_ok=True)
                events.append("disk freed")
            elif what == "kill":
                events.append(f"kill -9 at {time.monotonic() - started:.0f} s; restarted in {server.kill_and_restart():.1f} s")
        while time.monotonic() - started < duration:
            time.sleep(0.5)
        stop.set()
        for agent in agents:
            agent.join()
        lost = doubled = acked = 0
        for agent in agents:
            seqs = stored_seqs(server, agent.feed.meter_id, keys[agent.feed.meter_id][1])
            counts: dict[int, int] = {}
            for s in seqs:
                counts[s] = counts.get(s, 0) + 1
            acked += len(agent.acknowledged)
            lost += sum(1 for s in agent.acknowledged if s not in counts)
            doubled += sum(1 for c in counts.values() if c > 1)
        health = server.call("GET", "/api/v1/saude", key="")[1]
        lines += ["## Outcome", "",
                  f"- acknowledged readings: {acked:,}; lost: {lost}; stored twice: {doubled} "
                  f"({'✅ every acknowledged reading present exactly once' if not lost and not doubled else '❌'})",
                  f"- server RSS (first process): start {rss_start:.0f} MiB, peak {rss_peak:.0f} MiB, after the abusers "
                  f"left {rss_after_abuse:.0f} MiB = {rss_after_abuse / rss_start:.2f}× start "
                  f"({'✅' if rss_after_abuse < 2 * rss_start else '❌'} target < 2×)",
                  f"- /saude at the end: {health.get('estado')}", "", "## Events", ""]
        lines += [f"- {e}" for e in events]
        lines += ["", "## Honest clients per phase", "", "| phase | acknowledged POSTs | p50 ms | p99 ms | refusals and errors |",
                  "|---|---:|---:|---:|---|"]
        for phase in PHASES:
            lat = [x for a in agents for x in a.latencies.get(phase, [])]
            refused: dict[str, int] = {}
            for a in agents:
                for k, v in a.refusals.items():
                    if k.startswith(phase + ":"):
                        refused[k.split(":", 1)[1]] = refused.get(k.split(":", 1)[1], 0) + v
            lines.append(f"| {phase} | {len(lat):,} | {percentile(lat, 0.5):.1f} | {percentile(lat, 0.99):.1f} | "
                         f"{', '.join(f'{k}: {v}' for k, v in sorted(refused.items())) or '—'} |")
        lines.append("")
        return lines
    finally:
        server.process.stop()
        if mounted:
            subprocess.run(["umount", "-l", str(disk)], check=False)


PHASES = ("calmo", "abuso", "disco cheio", "disco liberado", "quedas")


def _phase(fraction: float) -> str:
    if ABUSE[0] <= fraction < ABUSE[1]:
        return "abuso"
    if DISK_FULL[0] <= fraction < DISK_FULL[1]:
        return "disco cheio"
    if fraction >= KILLS[0]:
        return "quedas"
    if fraction >= DISK_FULL[1]:
        return "disco liberado"   # the same process, recovering without a restart
    return "calmo"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duracao", type=float, default=180.0)
    parser.add_argument("--medidores", type=int, default=16)
    parser.add_argument("--abusivas", type=int, default=500)
    parser.add_argument("--saida", type=Path)
    args = parser.parse_args()
    text = "\n".join(run(args.duracao, args.medidores, args.abusivas))
    print(text)
    if args.saida:
        args.saida.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
