"""After the admin replaces a meter's keys, `medidor --chave-escrita` gives the agent the new one
(issue 14 #1): the readings it spooled meanwhile arrive, nothing is lost."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from medidor.state import StateFile
from tests.medidor_harness import Running, Server, config, server, wait_for  # noqa: F401 (fixture)


def test_a_rotated_write_key_given_with_chave_escrita_lets_the_agent_send_again(tmp_path: Path, server: Server):
    cfg = config(tmp_path, server)
    run = Running(cfg)
    wait_for(lambda: len(server.readings("casa-1")) >= 3, "first readings")
    admin = server.admin()
    new_write = admin.post("/api/v1/medidores/casa-1/chaves", {"papeis": ["escrita"]}).json["chave_escrita"]
    run.stop()
    refused = len(server.readings("casa-1"))
    run = Running(replace(cfg, chave_escrita=new_write, chave_registro=None))
    wait_for(lambda: len(server.readings("casa-1")) >= refused + 3, "readings with the new key")
    run.stop()
    assert StateFile(cfg.estado).load().chave_escrita == new_write
    seqs = [r["seq"] for r in server.readings("casa-1")]
    assert seqs == list(range(len(seqs)))  # what waited in the spool while refused arrived too
    admin.close()
