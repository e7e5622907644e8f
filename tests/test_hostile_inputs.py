"""What a hostile client or a key holder can send, answered with a 4xx and bounded, never a 500.

Numbers are bounded before any arithmetic, JSON nesting and Unicode are checked while decoding,
agent alerts and counter resets cannot multiply alerts, and the legacy routes hold a bounded
number of bounded payloads."""
from __future__ import annotations

import json
import socket
import time

import pytest

from servidor.domain import legacy as legacy_rules
from servidor.domain.alerts import MAX_CAUSE
from tests.conftest import Api

M = "/api/v1/medidores"
HUGE = int("9" * 400)


def now_ms() -> int:
    return int(time.time() * 1000)


def raw_json(api: Api, method: str, path: str, text: str):
    return api.call(method, path, raw=text.encode(), headers={"Content-Type": "application/json"})


@pytest.fixture
def meter(servidor_json):
    write, read = servidor_json.create_meter("alvo")
    return servidor_json, Api(servidor_json.port, write), Api(servidor_json.port, read)


@pytest.mark.parametrize("body", [
    {"seq": 1, "ts": 1_790_000_000_000, "energia_wh": HUGE},
    {"seq": 1, "ts": 1_790_000_000_000, "energia_wh": 1, "potencia_w": HUGE},
    {"seq": 1, "ts": 1_790_000_000_000, "energia_wh": 1, "TPF": [HUGE]},
    {"seq": 1, "ts": 1_790_000_000_000, "energia_wh": 1, "FRE": -HUGE},
    {"seq": HUGE, "ts": 1_790_000_000_000, "energia_wh": 1},
    {"seq": 1, "ts": HUGE, "energia_wh": 1},
])
def test_a_400_digit_integer_in_a_reading_is_refused_not_a_500(meter, body):
    _, agent, _ = meter
    reply = agent.post(f"{M}/alvo/leituras", body)
    assert reply.status == 400 and reply.json["erro"]["codigo"] == "json_invalido", reply.body
    assert "máximo 20" in reply.json["erro"]["mensagem"]  # the bound is named in the answer


def test_400_digit_integers_in_meter_fields_and_commands_are_refused(meter):
    server, _, owner = meter
    for field in ("multiplicador", "limite_alerta_kwh", "silencio_s"):
        assert server.admin.put(f"{M}/alvo", {field: HUGE}).status == 400
        assert server.admin.post(M, {"id": f"novo-{field}", field: HUGE}).status == 400
    for verb in ("multiplicador", "limite"):
        assert owner.post(f"{M}/alvo/comandos", {"comando": verb, "valor": HUGE}).status == 400
        assert owner.post(f"{M}/alvo/comandos", {"comando": verb, "valor": 1e300}).status == 422
    assert server.admin.post("/api/v1/tarifas", {"id": "t", "nome": "T", "preco_kwh": HUGE}).status == 400
    assert server.admin.get(f"{M}/alvo").json["multiplicador"] == 1.0


@pytest.mark.parametrize("value, where", [(10**19, "multiplicador"), (10**19, "limite_alerta_kwh"),
                                          (float("1e308"), "multiplicador"), (-1, "limite_alerta_kwh")])
def test_out_of_range_numbers_that_do_decode_are_422(meter, value, where):
    server, _, _ = meter
    assert server.admin.put(f"{M}/alvo", {where: value}).status == 422


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a":' * 5000 + "1" + "}" * 5000])
def test_json_nested_thousands_of_levels_is_400_on_every_route(meter, text):
    server, agent, _ = meter
    assert raw_json(agent, "POST", f"{M}/alvo/leituras", text).status == 400
    assert raw_json(server.admin, "POST", M, text).status == 400
    legacy = server.client().call("POST", "/velho-1", raw=text.encode())
    assert legacy.status == 400


def test_a_lone_surrogate_is_refused_and_never_stored(meter):
    server, agent, _ = meter
    lone = '{"id": "x1", "nome": "casa \\ud800"}'
    assert raw_json(server.admin, "POST", M, lone).status == 400
    assert raw_json(agent, "POST", f"{M}/alvo/alertas",
                    '{"tipo": "falha_dispositivo", "mensagem": "falhou \\udfff"}').status == 400
    assert server.client().call("POST", "/velho-2", raw=b'{"alerta": "\\ud800"}').status == 400
    paired = '{"tipo": "falha_dispositivo", "mensagem": "emoji \\ud83d\\ude00 ok"}'
    assert raw_json(agent, "POST", f"{M}/alvo/alertas", paired).status == 201


def test_nan_and_infinity_are_not_json(meter):
    _, agent, _ = meter
    for text in ('{"seq": 1, "ts": 1790000000000, "energia_wh": NaN}',
                 '{"seq": 1, "ts": 1790000000000, "energia_wh": Infinity}'):
        assert raw_json(agent, "POST", f"{M}/alvo/leituras", text).status == 400


def test_a_batch_is_answered_as_stored_even_if_a_step_after_storing_fails(meter, monkeypatch):
    server, agent, owner = meter

    def broken(*_args, **_kwargs):
        raise RuntimeError("falha depois de gravar")

    monkeypatch.setattr(server.app.services.alerts, "after_ingest", broken)
    reply = agent.post(f"{M}/alvo/leituras", {"leituras": [
        {"seq": 1, "ts": now_ms() - 2000, "energia_wh": 1}, {"seq": 2, "ts": now_ms() - 1000, "energia_wh": 2}]})
    assert reply.status == 200 and reply.json["aceitas"] == 2
    assert owner.get(f"{M}/alvo").json["resumo"]["leituras"] == 2
    again = agent.post(f"{M}/alvo/leituras", {"seq": 2, "ts": now_ms() - 1000, "energia_wh": 2})
    assert again.json["duplicadas"] == 1


# --- alerts ----------------------------------------------------------------------------------------

def test_an_agents_alert_cause_has_a_bounded_length(meter):
    _, agent, _ = meter
    alert = {"tipo": "falha_dispositivo", "mensagem": "falhou", "chave": "x" * (MAX_CAUSE + 1)}
    reply = agent.post(f"{M}/alvo/alertas", alert)
    assert reply.status == 422 and str(MAX_CAUSE) in reply.json["erro"]["mensagem"]
    assert agent.post(f"{M}/alvo/alertas", {**alert, "chave": 5}).status == 422


def test_an_agents_repeated_failure_counts_on_one_open_alert_and_reopens_after_acknowledged(meter):
    _, agent, owner = meter
    alert = {"tipo": "falha_dispositivo", "mensagem": "Modbus sem resposta", "chave": "modbus"}
    assert agent.post(f"{M}/alvo/alertas", alert).status == 201
    for n in range(2, 6):
        repeat = agent.post(f"{M}/alvo/alertas", {**alert, "mensagem": f"Modbus sem resposta ({n})"})
        assert repeat.status == 200 and repeat.json == {"duplicado": True, "ocorrencias": n}
    [open_alert] = owner.get(f"{M}/alvo/alertas").json["alertas"]
    assert open_alert["ocorrencias"] == 5 and open_alert["mensagem"] == "Modbus sem resposta (5)"
    owner.post(f"{M}/alvo/alertas/{open_alert['id']}/reconhecer")
    assert agent.post(f"{M}/alvo/alertas", alert).status == 201  # a new episode, a new alert
    assert len(owner.get(f"{M}/alvo/alertas").json["alertas"]) == 2


def test_a_batch_whose_counter_resets_on_every_reading_makes_one_alert(meter):
    server, agent, owner = meter
    start = now_ms() - 1000 * 1000
    # Every reading below the one before and none coming back: each is a reset (confirmed by the
    # next one), not a momentary zero.
    resets = [{"seq": i, "ts": start + i * 1000, "energia_wh": 1000.0 - i} for i in range(1000)]
    size_before = server.db_path.stat().st_size
    reply = agent.post(f"{M}/alvo/leituras", {"leituras": resets})
    assert reply.status == 200 and reply.json["aceitas"] == 1000
    alerts = [a for a in owner.get(f"{M}/alvo/alertas").json["alertas"] if a["tipo"] == "reinicio_contador"]
    assert len(alerts) == 1 and alerts[0]["ocorrencias"] == 998  # the last one awaits the next reading
    assert server.db_path.stat().st_size - size_before < 4096  # one alert, not 500 of them


def test_a_meter_keeps_a_bounded_number_of_alerts(meter, monkeypatch):
    from servidor.domain import alerts as alerts_module

    monkeypatch.setattr(alerts_module, "MAX_KEPT_PER_METER", 10)
    _, agent, owner = meter
    for n in range(25):
        assert agent.post(f"{M}/alvo/alertas", {"tipo": "spool_cheio", "mensagem": "cheio", "chave": f"c{n}"}).status == 201
    kept = owner.get(f"{M}/alvo/alertas").json["alertas"]
    assert len(kept) == 10 and kept[0]["chave"] == "spool_cheio:c24"  # the newest are kept


# --- the legacy routes ---------------------------------------------------------------------------

def post_like_004(port: int, meter_id: str, body: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(f"POST /{meter_id} HTTP/1.1\r\nHost: localhost:5000\r\n\r\n".encode() + body)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(5)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_a_legacy_payload_over_its_bound_is_413_and_the_old_one_stays(servidor_json):
    server = servidor_json
    assert post_like_004(server.port, "velho", json.dumps({"consumo_total_kWh": 1}).encode()).startswith(b"HTTP/1.1 200")
    big = json.dumps({"Fatura_Atual": ["x" * 100] * (legacy_rules.MAX_PAYLOAD_BYTES // 100)}).encode()
    assert post_like_004(server.port, "velho", big).startswith(b"HTTP/1.1 413")
    assert server.client().get("/?id=velho").json == {"velho": {"consumo_total_kWh": 1}}


def test_legacy_meters_are_bounded_in_number_and_get_all_hands_out_at_most_that(servidor_json, monkeypatch):
    monkeypatch.setattr(legacy_rules, "MAX_METERS", 3)
    server = servidor_json
    for n in range(3):
        assert post_like_004(server.port, f"m{n}", b'{"consumo_total_kWh": 1}').startswith(b"HTTP/1.1 200")
    refused = post_like_004(server.port, "m3", b'{"consumo_total_kWh": 1}')
    assert refused.startswith(b"HTTP/1.1 507") and b"limite_atingido" in refused
    assert post_like_004(server.port, "m0", b'{"consumo_total_kWh": 2}').startswith(b"HTTP/1.1 200")  # updates fit
    assert sorted(server.client().get("/").json) == ["m0", "m1", "m2"]
    assert server.client().delete("/m1").status == 204
    assert post_like_004(server.port, "m3", b'{"consumo_total_kWh": 1}').startswith(b"HTTP/1.1 200")
