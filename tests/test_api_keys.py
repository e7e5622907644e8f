"""A meter's keys rotated or revoked through the API (issue 14 #1): old keys stop at once, new
ones are shown once, only the admin may, and a restart keeps what was done."""
from __future__ import annotations

from servidor.store.documents import DocumentStore
from tests.conftest import start_server, stop_server

M = "/api/v1/medidores"
READING = {"seq": 1, "ts": 1_790_000_000_000, "energia_wh": 1.0}


def test_rotating_both_keys_revokes_the_old_ones_at_once(servidor):
    write, read = servidor.create_meter("casa")
    assert servidor.client(read).get(f"{M}/casa").status == 200  # now cached by the key ring
    reply = servidor.admin.post(f"{M}/casa/chaves")
    assert reply.status == 201, reply.body
    new_write, new_read = reply.json["chave_escrita"], reply.json["chave_leitura"]
    assert "mostradas de novo" in reply.json["aviso"]
    assert servidor.client(read).get(f"{M}/casa").status == 401
    assert servidor.client(write).post(f"{M}/casa/leituras", READING).status == 401
    assert servidor.client(new_read).get(f"{M}/casa").status == 200
    assert servidor.client(new_write).post(f"{M}/casa/leituras", READING).status == 200


def test_rotating_only_the_read_key_leaves_the_agent_sending(servidor):
    write, read = servidor.create_meter("casa")
    reply = servidor.admin.post(f"{M}/casa/chaves", {"papeis": ["leitura"]})
    assert reply.status == 201 and set(reply.json) == {"medidor", "chave_leitura", "aviso"}
    assert servidor.client(write).post(f"{M}/casa/leituras", READING).status == 200
    assert servidor.client(read).get(f"{M}/casa").status == 401
    listed = servidor.admin.get(f"{M}/casa/chaves").json["chaves"]
    assert sorted(k["papel"] for k in listed) == ["escrita", "leitura"]
    assert reply.json["chave_leitura"].split("_")[1] in {k["id_chave"] for k in listed}
    assert all("hash" not in k for k in listed)


def test_revoking_a_key_leaves_the_meter_without_one_until_a_new_one_is_made(servidor):
    write, _ = servidor.create_meter("casa")
    assert servidor.admin.delete(f"{M}/casa/chaves/escrita").status == 204
    assert servidor.client(write).post(f"{M}/casa/leituras", READING).status == 401
    assert [k["papel"] for k in servidor.admin.get(f"{M}/casa/chaves").json["chaves"]] == ["leitura"]
    made = servidor.admin.post(f"{M}/casa/chaves", {"papeis": ["escrita"]}).json["chave_escrita"]
    assert servidor.client(made).post(f"{M}/casa/leituras", READING).status == 200


def test_only_the_admin_may_and_bad_requests_say_why(servidor):
    write, read = servidor.create_meter("casa")
    for key in (write, read):
        assert servidor.client(key).post(f"{M}/casa/chaves").status == 403
        assert servidor.client(key).get(f"{M}/casa/chaves").status == 403
        assert servidor.client(key).delete(f"{M}/casa/chaves/leitura").status == 403
    assert servidor.admin.post(f"{M}/nada/chaves").status == 404
    assert servidor.admin.delete(f"{M}/nada/chaves/leitura").status == 404
    bad = servidor.admin.post(f"{M}/casa/chaves", {"papeis": ["admin"]})
    assert bad.status == 422 and "papeis" in bad.json["erro"]["mensagem"]
    assert servidor.admin.delete(f"{M}/casa/chaves/admin").status == 422
    assert servidor.client(write).post(f"{M}/casa/leituras", READING).status == 200  # nothing changed


def test_rotated_keys_survive_a_restart(tmp_path):
    from servidor.app import readings_dir
    from servidor.store.readings import ReadingStore

    db = tmp_path / "db.json"
    running = start_server(DocumentStore.open(db), ReadingStore.open(readings_dir(db)), db)
    write, _ = running.create_meter("casa")
    new_write = running.admin.post(f"{M}/casa/chaves", {"papeis": ["escrita"]}).json["chave_escrita"]
    stop_server(running)
    again = start_server(DocumentStore.open(db), ReadingStore.open(readings_dir(db)), db)
    try:
        assert again.client(write).post(f"{M}/casa/leituras", READING).status == 401
        assert again.client(new_write).post(f"{M}/casa/leituras", READING).status == 200
    finally:
        stop_server(again)


def test_deleting_a_meter_after_a_rotation_removes_every_key(servidor):
    servidor.create_meter("casa")
    servidor.admin.post(f"{M}/casa/chaves")
    assert servidor.admin.delete(f"{M}/casa").status == 204
    servidor.create_meter("casa")
    assert len(servidor.admin.get(f"{M}/casa/chaves").json["chaves"]) == 2
