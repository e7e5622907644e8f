"""Meters over a real socket: creation, keys, permissions, PUT/DELETE, validation errors."""
from __future__ import annotations

from tests.conftest import REGISTRATION

M = "/api/v1/medidores"


def test_create_returns_both_keys_once_and_the_meter_with_defaults(servidor):
    reply = servidor.admin.post(M, {"id": "casa-1", "nome": "Casa 1"})
    assert reply.status == 201
    body = reply.json
    assert body["chave_escrita"].startswith("me_") and body["chave_leitura"].startswith("ml_")
    assert body["categoria"] == "gridImport"
    assert body["fuso"] == "America/Sao_Paulo"
    assert body["estado"] == "ativo"
    again = servidor.admin.get(f"{M}/casa-1")
    assert again.status == 200
    assert "chave_escrita" not in again.json and "chave_leitura" not in again.json


def test_registration_key_creates_but_cannot_list(servidor):
    agent = servidor.client(REGISTRATION)
    assert agent.post(M, {"id": "novo"}).status == 201
    listing = agent.get(M)
    assert listing.status == 403
    assert listing.json["erro"]["codigo"] == "sem_permissao"


def test_existing_id_is_a_conflict(servidor):
    servidor.create_meter("dup")
    reply = servidor.admin.post(M, {"id": "dup"})
    assert reply.status == 409
    assert reply.json["erro"]["codigo"] == "conflito"


def test_no_key_is_401_with_www_authenticate_and_wrong_key_is_401(servidor):
    anon = servidor.client()
    reply = anon.get(M)
    assert reply.status == 401
    assert reply.headers["www-authenticate"].startswith("Bearer")
    assert reply.json["erro"]["codigo"] == "nao_autenticado"
    assert servidor.client("ml_0000000000000000_nope").get(M).status == 401


def test_a_meters_key_sees_only_its_meter_and_gets_403_on_another(servidor):
    write_a, read_a = servidor.create_meter("a")
    servidor.create_meter("b")
    owner = servidor.client(read_a)
    listing = owner.get(M)
    assert [m["id"] for m in listing.json["medidores"]] == ["a"]
    assert owner.get(f"{M}/a").status == 200
    forbidden = owner.get(f"{M}/b")
    assert forbidden.status == 403
    assert forbidden.json["erro"]["codigo"] == "sem_permissao"
    # The read key cannot write readings; the write key can.
    reading = {"seq": 1, "ts": 1_790_000_000_000, "energia_wh": 1}
    assert owner.post(f"{M}/a/leituras", reading).status == 403
    assert servidor.client(write_a).post(f"{M}/a/leituras", reading).status == 200


def test_put_replaces_editable_fields_and_keeps_creation_time(servidor):
    write, _ = servidor.create_meter("p", nome="Antes", limite_alerta_kwh=100)
    before = servidor.admin.get(f"{M}/p").json
    reply = servidor.client(write).put(f"{M}/p", {"nome": "Depois", "fuso": "Europe/Lisbon", "multiplicador": 2})
    assert reply.status == 200
    after = reply.json
    assert after["nome"] == "Depois" and after["fuso"] == "Europe/Lisbon" and after["multiplicador"] == 2.0
    # PUT replaces: an omitted editable field returns to its default.
    assert after["limite_alerta_kwh"] == 500.0
    assert after["criado_em"] == before["criado_em"]


def test_delete_is_admin_only_then_the_meter_and_its_keys_are_gone(servidor):
    write, read = servidor.create_meter("d")
    assert servidor.client(write).delete(f"{M}/d").status == 403
    assert servidor.admin.delete(f"{M}/d").status == 204
    assert servidor.admin.get(f"{M}/d").status == 404
    assert servidor.client(read).get(f"{M}/d").status == 401


def test_invalid_fields_are_422_with_the_reason(servidor):
    cases = [
        ({"id": "x", "categoria": "solar"}, "categoria"),
        ({"id": "x", "fuso": "Marte/Olimpo"}, "fuso"),
        ({"id": "x", "multiplicador": -1}, "multiplicador"),
        ({"id": "bad id!"}, "id"),
        ({"id": "x", "cor": "azul"}, "desconhecidos"),
        ({"id": "x", "tarifa": "nao-existe"}, "tarifa"),
    ]
    for body, word in cases:
        reply = servidor.admin.post(M, body)
        assert reply.status == 422, body
        assert word in reply.json["erro"]["mensagem"], reply.json


def test_malformed_json_is_400_and_wrong_media_type_is_415(servidor):
    bad = servidor.admin.call("POST", M, raw=b'{"id": ', headers={"Content-Type": "application/json"})
    assert bad.status == 400
    assert bad.json["erro"]["codigo"] == "json_invalido"
    form = servidor.admin.call("POST", M, raw=b"id=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status == 415


def test_unknown_path_is_404_and_wrong_method_is_405_with_allow(servidor):
    missing = servidor.admin.get("/api/v1/nada")
    assert missing.status == 404 and missing.json["erro"]["codigo"] == "nao_encontrado"
    wrong = servidor.admin.call("PATCH", M)
    assert wrong.status == 405
    assert set(wrong.headers["allow"].split(", ")) == {"GET", "HEAD", "POST", "OPTIONS"}


def test_options_answers_cors_preflight(servidor):
    reply = servidor.client().call("OPTIONS", f"{M}/x/leituras")
    assert reply.status == 204
    assert reply.headers["access-control-allow-origin"] == "*"
    assert "authorization" in reply.headers["access-control-allow-headers"]


def test_health_is_open_and_reports_the_store(servidor):
    reply = servidor.client().get("/api/v1/saude")
    assert reply.status == 200
    assert reply.json["estado"] == "ok"
    assert "leituras" in reply.json["armazenamento"]


def test_head_has_the_length_of_get_and_no_body(servidor):
    get = servidor.client().get("/api/v1/openapi.json")
    head = servidor.client().call("HEAD", "/api/v1/openapi.json")
    assert head.status == 200 and head.body == b""
    assert int(head.headers["content-length"]) == len(get.body) > 0


def test_every_response_errors_included_carries_cors(servidor):
    assert servidor.client().get("/api/v1/saude").headers["access-control-allow-origin"] == "*"
    assert servidor.client().get("/api/v1/medidores").headers["access-control-allow-origin"] == "*"  # 401
    assert servidor.admin.get("/api/v1/nada").headers["access-control-allow-origin"] == "*"  # 404


def test_ids_with_a_trailing_newline_are_refused(servidor):
    assert servidor.admin.post(M, {"id": "abc\n"}).status == 422
    assert servidor.admin.get(f"{M}%0A").status == 404


def test_limits_out_of_range_are_refused_so_percentages_stay_finite(servidor):
    servidor.create_meter("lim")
    for body in ({"limite_alerta_kwh": 5e-324}, {"limite_alerta_kwh": 1e300}, {"multiplicador": 1e9}):
        assert servidor.admin.put(f"{M}/lim", body).status == 422, body
