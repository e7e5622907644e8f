"""`servidor` on damaged readings, end to end (issue 8, finding 9): it refuses to start with
exit 4 and a message naming the file, the offset and the command; `servidor reparar` repairs,
and the server then serves every reading but the damaged one."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Api
from tests.server_process import ADMIN, run_cli, start


@pytest.mark.slow
def test_damaged_journal_refuses_start_and_reparar_brings_back_every_other_reading(tmp_path: Path):
    db = tmp_path / "db.json"
    server = start(db)
    admin = Api(server.port, ADMIN)
    write_key = admin.post("/api/v1/medidores", {"id": "casa", "nome": "Casa"}).json["chave_escrita"]
    agent = admin.as_key(write_key)
    for seq in range(1, 201):
        reply = agent.post("/api/v1/medidores/casa/leituras",
                           {"seq": seq, "ts": 1_700_000_000_000 + seq * 10_000, "energia_wh": seq * 2.0})
        assert reply.status in (200, 201), reply.body
    assert server.stop() == 0
    journal = next((tmp_path / "db.leituras").glob("journal-*.log"))
    data = bytearray(journal.read_bytes())
    data[len(data) // 2] ^= 0x20
    journal.write_bytes(bytes(data))

    refused = run_cli("--db", str(db))
    assert refused.returncode == 4
    for word in (journal.name, "deslocamento", "servidor reparar", "leitura(s) do medidor 'casa'"):
        assert word in refused.stderr
    assert journal.read_bytes() == bytes(data)

    repaired = run_cli("reparar", "--db", str(db))
    assert repaired.returncode == 0, repaired.stderr
    assert "199 registro(s) íntegro(s) mantido(s)" in repaired.stdout and "relatório:" in repaired.stdout
    assert len(list((tmp_path / "db.leituras" / "danificados").iterdir())) == 2  # the original and the report

    server = start(db)
    reply = Api(server.port, ADMIN).get("/api/v1/medidores/casa/leituras?limite=1000")
    assert reply.status == 200
    assert len(reply.json["leituras"]) == 199
    assert server.stop() == 0


def test_reparar_while_the_server_runs_is_refused_with_exit_4(tmp_path: Path):
    db = tmp_path / "db.json"
    server = start(db)
    try:
        result = run_cli("reparar", "--db", str(db))
        assert result.returncode == 4 and "pare o servidor" in result.stderr
    finally:
        server.stop()
