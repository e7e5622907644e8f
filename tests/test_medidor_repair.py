"""A spool damaged on disk, end to end: the agent refuses to start (exit 4, saying where and what
is at stake), `medidor reparar` keeps every intact reading, and no seq is ever used twice."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from medidor.state import StateFile
from tests.conftest import REGISTRATION
from tests.medidor_harness import Running, Server, config, server, wait_for  # noqa: F401 (fixture)


def medidor(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    return subprocess.run([sys.executable, "-m", "medidor", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def record_starts(data: bytes, start: int) -> list[int]:
    starts, pos = [], start
    while pos < len(data):
        starts.append(pos)
        pos += 16 + int.from_bytes(data[pos:pos + 4], "little")
    return starts


@pytest.mark.slow
def test_a_flipped_bit_stops_the_agent_until_repaired_and_then_every_intact_reading_arrives(
        tmp_path: Path, server: Server) -> None:
    from medidor.spool.cursor import read_cursor

    cfg = config(tmp_path, server, estado=tmp_path / "estado" / "casa-1")
    run = Running(cfg)
    wait_for(lambda: len(server.readings("casa-1")) >= 3, "first readings")
    server.stop()
    wait_for(lambda: run.agent.spool is not None and run.agent.spool.pending >= 40, "a backlog while the server is away")
    run.stop()
    reserved = StateFile(cfg.estado).load().proximo_seq

    # One bit flips in the middle of the readings waiting to be sent.
    spool_dir = cfg.estado / "spool"
    [segment] = sorted(spool_dir.glob("*.seg"))
    data = bytearray(segment.read_bytes())
    cursor = read_cursor(spool_dir)
    start = cursor.offset if cursor is not None else 0
    starts = record_starts(bytes(data), start)
    hit = starts[len(starts) // 2]
    hit_seq = int.from_bytes(data[hit + 4:hit + 12], "little")
    pending_seqs = [int.from_bytes(data[s + 4:s + 12], "little") for s in starts]
    data[hit + 30] ^= 0x04
    segment.write_bytes(bytes(data))

    refused = medidor("--id", "casa-1", "--servidor", server.url, "--estado", str(tmp_path / "estado"),
                      "--sem-teclado", "--intervalo", "0.1")
    assert refused.returncode == 4, refused.stderr
    assert f"{segment}, posição {hit}" in refused.stderr
    assert f"{len(starts) - len(starts) // 2 - 1} leituras intactas depois do dano" in refused.stderr
    assert f"medidor reparar {spool_dir}" in refused.stderr
    assert segment.read_bytes() == bytes(data)  # nothing cut

    repaired = medidor("reparar", str(spool_dir))
    assert repaired.returncode == 0, repaired.stderr
    assert f"{len(starts) - 1} leituras intactas guardadas" in repaired.stdout

    server.start()
    sent_before = {r["seq"]: r["ts"] for r in server_rows(server)}
    run = Running(replace(cfg, chave_registro=None))
    wait_for(lambda: run.agent.spool is not None and run.agent.spool.pending == 0
             and run.agent.next_seq >= reserved + 5, "the backlog and new readings")
    run.stop()
    rows = server_rows(server)
    seqs = [r["seq"] for r in rows]
    assert len(seqs) == len(set(seqs))
    # Every intact reading arrived; only the one the flip hit is missing.
    assert set(pending_seqs) - set(seqs) == {hit_seq}
    # Nothing already on the server was replaced, and every new reading is past the reservation.
    assert all(sent_before[r["seq"]] == r["ts"] for r in rows if r["seq"] in sent_before)
    new = [s for s in seqs if s > max(pending_seqs)]
    assert new and min(new) >= reserved


def server_rows(server: Server) -> list[dict]:
    return server.readings("casa-1")


def test_reparar_on_a_sound_spool_changes_nothing(tmp_path: Path) -> None:
    from medidor.spool import Spool, SpoolRecord

    with Spool(tmp_path / "casa" / "spool") as spool:
        spool.append([SpoolRecord(0, b'{"seq":0}')])
    done = medidor("reparar", str(tmp_path / "casa"))
    assert done.returncode == 0 and "nada a reparar" in done.stdout


def test_reparar_without_a_spool_exits_3(tmp_path: Path) -> None:
    done = medidor("reparar", str(tmp_path))
    assert done.returncode == 3 and "não há spool" in done.stderr


def test_help_documents_exit_4_and_the_repair(tmp_path: Path) -> None:
    done = medidor("--help")
    assert "4 spool danificado" in done.stdout and "medidor reparar" in done.stdout
    readme = (Path(__file__).resolve().parent.parent / "medidor" / "README.md").read_text()
    assert "medidor reparar" in readme and "| 4 |" in readme
    assert REGISTRATION not in done.stdout


def test_damage_found_while_running_stops_the_agent_with_the_repair_command(tmp_path: Path, server: Server) -> None:
    from medidor.spool import SpoolDamaged
    from medidor.spool.cursor import read_cursor

    cfg = config(tmp_path, server)
    run = Running(cfg)
    wait_for(lambda: len(server.readings("casa-1")) >= 3, "first readings")
    server.stop()
    wait_for(lambda: run.agent.spool is not None and run.agent.spool.pending >= 20, "a backlog")
    [segment] = sorted((cfg.estado / "spool").glob("*.seg"))
    cursor = read_cursor(cfg.estado / "spool")
    sent_up_to = 0 if cursor is None else cursor.offset
    with open(segment, "r+b") as f:  # in place: the agent is appending to this file
        f.seek((sent_up_to + segment.stat().st_size) // 2)  # a reading waiting to be sent
        byte = f.read(1)[0]
        f.seek(-1, 1)
        f.write(bytes([byte ^ 0x01]))
    server.start()
    run.thread.join(30)
    assert not run.thread.is_alive(), "the agent went on past a damaged spool"
    assert isinstance(run.error, SpoolDamaged) and "medidor reparar" in str(run.error)
