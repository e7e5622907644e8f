"""Alerts, commands and the live long poll over a real socket."""
from __future__ import annotations

import threading
import time

M = "/api/v1/medidores"


def now_ms() -> int:
    return int(time.time() * 1000)


def test_passing_the_monthly_limit_raises_one_alert_that_can_be_acknowledged(servidor):
    write, read = servidor.create_meter("lim", limite_alerta_kwh=1)
    agent, owner = servidor.client(write), servidor.client(read)
    t = now_ms() - 60_000
    agent.post(f"{M}/lim/leituras", {"leituras": [{"seq": 1, "ts": t - 1000, "energia_wh": 0}, {"seq": 2, "ts": t, "energia_wh": 1500}]})
    agent.post(f"{M}/lim/leituras", {"seq": 3, "ts": t + 1000, "energia_wh": 1600})
    alerts = owner.get(f"{M}/lim/alertas").json["alertas"]
    over = [a for a in alerts if a["tipo"] == "limite_excedido"]
    assert len(over) == 1
    assert set(over[0]) >= {"id", "tipo", "mensagem", "criado_em", "reconhecido"}
    assert over[0]["reconhecido"] is False
    assert owner.get(f"{M}/lim").json["resumo"]["alertas_ativos"] >= 1
    ack = owner.post(f"{M}/lim/alertas/{over[0]['id']}/reconhecer")
    assert ack.status == 200 and ack.json["reconhecido"] is True
    assert owner.post(f"{M}/lim/alertas/nao-existe/reconhecer").status == 404


def test_a_silent_meter_raises_a_silence_alert(servidor):
    """Its readings stopped arriving (tests/test_silence.py drives the clock through the rest)."""
    write, read = servidor.create_meter("mudo")
    servidor.client(write).post(f"{M}/mudo/leituras", {"seq": 1, "ts": now_ms() - 3_600_000, "energia_wh": 5})
    servidor.app.housekeeper.run_once()  # what its thread runs every 30 s
    assert servidor.client(read).get(f"{M}/mudo/alertas").json["alertas"] == []  # it arrived just now
    later = servidor.app.settings.clock() + 15 * 60 + 1
    servidor.app.services.alerts.check_silence(servidor.app.services.meters.all(), int(later * 1000))
    alerts = servidor.client(read).get(f"{M}/mudo/alertas").json["alertas"]
    assert [a["tipo"] for a in alerts] == ["silencio"]


def test_commands_change_the_meter_and_reach_the_agent_once(servidor):
    write, read = servidor.create_meter("cmd")
    agent, owner = servidor.client(write), servidor.client(read)
    assert owner.post(f"{M}/cmd/comandos", {"comando": "pausar"}).status == 202
    assert owner.post(f"{M}/cmd/comandos", {"comando": "multiplicador", "valor": 2.5}).status == 202
    assert owner.post(f"{M}/cmd/comandos", {"comando": "voar"}).status == 422
    assert owner.post(f"{M}/cmd/comandos", {"comando": "limite"}).status == 422
    meter = owner.get(f"{M}/cmd").json
    assert meter["estado"] == "pausado" and meter["multiplicador"] == 2.5
    first = agent.post(f"{M}/cmd/leituras", {"seq": 1, "ts": now_ms(), "energia_wh": 1}).json
    assert [(c["comando"], c["valor"]) for c in first["comandos"]] == [("pausar", None), ("multiplicador", 2.5)]
    second = agent.post(f"{M}/cmd/leituras", {"seq": 2, "ts": now_ms(), "energia_wh": 2}).json
    assert second["comandos"] == []


def test_live_poll_answers_as_soon_as_a_reading_arrives(servidor):
    write, read = servidor.create_meter("vivo")
    agent, owner = servidor.client(write), servidor.client(read)
    agent.post(f"{M}/vivo/leituras", {"seq": 1, "ts": now_ms(), "energia_wh": 1})
    hub = servidor.app.services.live

    def once_the_poll_waits() -> None:
        # The poll is parked in the hub (not merely sent) before the reading goes in.
        assert hub.until_waiting("vivo", 1, timeout=10)
        servidor.client(write).post(f"{M}/vivo/leituras", {"seq": 2, "ts": now_ms(), "energia_wh": 2})

    poster = threading.Thread(target=once_the_poll_waits)
    poster.start()
    started = time.monotonic()
    reply = owner.get(f"{M}/vivo/ao-vivo?apos=1&espera=10")
    elapsed = time.monotonic() - started
    poster.join()
    assert reply.status == 200
    assert [r["seq"] for r in reply.json["leituras"]] == [2]
    assert elapsed < 5  # answered by the reading, not by the 10 s wait
    assert hub.waiting("vivo") == 0
    already = owner.get(f"{M}/vivo/ao-vivo?apos=0&espera=10")
    assert [r["seq"] for r in already.json["leituras"]] == [1, 2]


def test_live_poll_times_out_with_204(servidor):
    _, read = servidor.create_meter("calmo")
    reply = servidor.client(read).get(f"{M}/calmo/ao-vivo?espera=0.3")
    assert reply.status == 204 and reply.body == b""
    assert servidor.client(read).get(f"{M}/calmo/ao-vivo?espera=999").status == 422


def test_an_agent_can_raise_a_device_failure_alert(servidor):
    write, read = servidor.create_meter("falha")
    reply = servidor.client(write).post(f"{M}/falha/alertas", {"tipo": "falha_dispositivo", "mensagem": "PM710 não responde há 5 min"})
    assert reply.status == 201
    assert servidor.client(read).get(f"{M}/falha/alertas").json["alertas"][0]["tipo"] == "falha_dispositivo"


def test_a_limit_crossed_between_month_checks_is_raised_by_housekeeping(servidor):
    write, read = servidor.create_meter("ritmo", limite_alerta_kwh=1)
    agent = servidor.client(write)
    t = now_ms() - 60_000
    agent.post(f"{M}/ritmo/leituras", {"seq": 1, "ts": t, "energia_wh": 0})  # checked: under the limit
    agent.post(f"{M}/ritmo/leituras", {"seq": 2, "ts": t + 1000, "energia_wh": 5000})  # within 10 s: skipped
    servidor.app.housekeeper.run_once()
    kinds = [a["tipo"] for a in servidor.client(read).get(f"{M}/ritmo/alertas").json["alertas"]]
    assert kinds == ["limite_excedido"]
