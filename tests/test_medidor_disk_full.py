"""The spool and the agent on a real filesystem that fills up (a tmpfs mounted for the test).

Issue 8, finding 11: a record that failed to write stayed in a write buffer and landed later
ahead of new records with a duplicate seq; two records whose append had returned were gone
after reopening; a reading reported as discarded was queued; and acknowledged space was never
reclaimed while the active segment was under 4 MiB, so with the server up nothing got through.
"""
from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any, Callable

import pytest

from medidor.spool import Spool, SpoolRecord
from tests.medidor_harness import Running, Server, config, fill, free_space, server, tiny_disk, wait_for  # noqa: F401

# Big enough for the spool's cursor file and a few segments; small enough to fill in a moment.
DISK_BYTES = 1024 * 1024


def rec(seq: int, size: int = 200) -> SpoolRecord:
    return SpoolRecord(seq, json.dumps({"seq": seq, "x": "b" * size}).encode())


def test_an_append_that_failed_on_a_full_disk_leaves_nothing_behind(tiny_disk: Callable[[int], Path]) -> None:
    disk = tiny_disk(DISK_BYTES)
    spool = Spool(disk / "spool")
    spool.append([rec(0)])
    filler = fill(disk)
    with pytest.raises(OSError) as failed:
        spool.append([rec(1, size=5000)])  # more than the slack in the last page, less than a write buffer
    assert failed.value.errno == errno.ENOSPC
    assert spool.pending == 1
    filler.unlink()
    # The reading that failed is gone; its seq was never used, so the next one takes it.
    returned = [rec(1), rec(2)]
    spool.append(returned[:1])
    spool.append(returned[1:])
    assert spool.peek(10) == [rec(0)] + returned
    spool.close()
    with Spool(disk / "spool") as again:
        assert again.peek(10) == [rec(0)] + returned  # every append that returned, nothing else


def test_acknowledging_on_a_full_disk_frees_the_space_for_new_readings(tiny_disk: Callable[[int], Path]) -> None:
    disk = tiny_disk(DISK_BYTES)
    spool = Spool(disk / "spool")
    seq = 0
    # The spool itself fills the disk, far below its 4 MiB segments.
    while True:
        try:
            spool.append([rec(seq, size=2000)])
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
            break
        seq += 1
    assert free_space(disk) < 8192
    assert spool.ack_through(seq - 1) == seq  # needs no space itself
    assert free_space(disk) > DISK_BYTES // 2
    spool.append([rec(seq)])
    spool.close()
    with Spool(disk / "spool") as again:
        assert again.peek(10) == [rec(seq)]
        assert again.last_seq == seq


def test_a_full_disk_whose_acked_data_fills_it_recovers_on_the_next_append(tiny_disk: Callable[[int], Path]) -> None:
    disk = tiny_disk(DISK_BYTES)
    spool = Spool(disk / "spool")
    spool.append([rec(0, size=4000)])
    spool.ack_through(0)   # under the reclaim size: kept for now
    filler = fill(disk)
    filler_size = filler.stat().st_size
    spool.append([rec(1, size=3000)])  # the acknowledged segment is given back to make room
    assert filler.stat().st_size == filler_size
    assert spool.peek(10) == [rec(1, size=3000)]
    spool.close()


def test_readings_discarded_on_a_full_disk_never_reach_the_server(tmp_path: Path, server: Server,
                                                                  tiny_disk: Callable[[int], Path],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    disk = tiny_disk(DISK_BYTES)
    returned: dict[int, bytes] = {}
    real_append = Spool.append

    def recording_append(self: Spool, records: Any) -> None:
        real_append(self, records)  # raises: nothing recorded
        returned.update((r.seq, r.payload) for r in records)

    monkeypatch.setattr(Spool, "append", recording_append)
    run = Running(config(tmp_path, server, estado=disk / "agente"))
    try:
        wait_for(lambda: len(server.readings("casa-1")) >= 3, "first readings")
        # With the server away nothing acknowledged can be given back: the disk stays full.
        server.stop()
        filler = fill(disk)
        wait_for(lambda: any("ERRO ao gravar no disco" in m for m in run.messages), "the disk error")
        failed_at = run.agent.next_seq
        wait_for(lambda: run.agent.status.snapshot().dispositivo.startswith("erro de disco"), "the status line")
        filler.unlink()
        server.start()
        wait_for(lambda: len(server.readings("casa-1")) >= failed_at + 5, "readings after space came back")
    finally:
        run.stop()
    rows = server.readings("casa-1")
    assert [r["seq"] for r in rows] == list(range(len(rows)))
    # What the server holds for each seq is the reading whose append returned, not one that
    # was reported discarded.
    for row in rows:
        assert json.loads(returned[row["seq"]])["ts"] == row["ts"], row["seq"]


@pytest.mark.slow
def test_a_full_disk_with_the_server_up_recovers_by_itself(tmp_path: Path, server: Server,
                                                          tiny_disk: Callable[[int], Path]) -> None:
    disk = tiny_disk(DISK_BYTES)
    # Something else took most of the disk: what is left holds the agent's files and about
    # half of one catch-up append (2000 readings).
    fill(disk, leave=160 * 1024)
    # Two days of 10-s readings as fast as they can be made: 17,280 readings, ~1.7 MB of spool
    # records through ~100 KiB, which only works if acknowledged space comes back.
    cfg = config(tmp_path, server, estado=disk / "agente", intervalo_s=10.0, historico_dias=2.0)
    run = Running(cfg)
    try:
        wait_for(lambda: run.agent.next_seq >= 17_280 and run.agent.spool is not None
                 and run.agent.spool.pending == 0, "two days of history through the full disk", 120)
    finally:
        run.stop()
    assert any("ERRO ao gravar no disco" in m for m in run.messages)  # the disk did fill up
    assert _all_seqs(server) == list(range(run.agent.next_seq))  # and nothing was skipped


def _all_seqs(server: Server) -> list[int]:
    """Every seq the server holds for casa-1, page by page."""
    api = server.admin()
    seqs: list[int] = []
    path = "/api/v1/medidores/casa-1/leituras?limite=10000"
    try:
        while path:
            reply = api.get(path)
            assert reply.status == 200, reply.body
            seqs += [r["seq"] for r in reply.json["leituras"]]
            path = reply.json.get("proxima_pagina")
    finally:
        api.close()
    return seqs
