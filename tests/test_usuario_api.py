"""usuario.api against a real server on port 0: answers become frozen values, failures one of a
few ApiErrors, and the connection pool is safe to share between threads."""
from __future__ import annotations

import dataclasses
import socket
import threading
from datetime import date
from pathlib import Path

import pytest

from servidor import example
from tests.conftest import ADMIN, REGISTRATION, Running
from usuario.api import (
    ApiClient, Forbidden, NotFound, RequestFailed, ServerUnreachable, Unauthorized, describe_auth_problem,
    normalize_base_url,
)

ROOT = Path(__file__).resolve().parent.parent
CASA_READ, CASA_WRITE = example.DEMO_KEYS["casa-silva"]


def client(running: Running, key: str | None = ADMIN) -> ApiClient:
    return ApiClient(f"http://127.0.0.1:{running.port}", key)


@pytest.mark.parametrize(("typed", "expected"), [
    ("127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("http://127.0.0.1:5000/", "http://127.0.0.1:5000"),
    ("http://127.0.0.1:5000/api/v1", "http://127.0.0.1:5000"),  # what the server prints at startup
    ("  http://servidor.local/monitor/api/v1/ ", "http://servidor.local/monitor"),
])
def test_base_url_accepts_what_people_type(typed: str, expected: str):
    assert normalize_base_url(typed) == expected


@pytest.mark.parametrize("typed", ["", "https://x", "http://:5000", "http://x:porta"])
def test_unusable_base_url_is_a_value_error(typed: str):
    with pytest.raises(ValueError):
        normalize_base_url(typed)


def test_meter_list_and_one_meter_are_frozen_values(seeded: Running):
    api = client(seeded)
    listed = api.meters()
    assert [m.id for m in listed.medidores] == ["casa-silva", "escola-norte", "padaria-sol"]
    meter = api.meter("casa-silva")
    assert meter.nome == "Casa da família Silva" and meter.tarifa == "residencial" and not meter.paused
    assert meter.resumo.leituras == example.DAYS * 24
    assert all(not a.reconhecido for a in meter.alertas)
    with pytest.raises(dataclasses.FrozenInstanceError):
        meter.nome = "outro"  # type: ignore[misc]


def test_consumption_invoices_alerts_and_tariff(seeded: Running):
    api = client(seeded)
    days = api.consumption("casa-silva", "dia", date(2026, 10, 1), date(2026, 10, 31))
    assert len(days.buckets) == 31 and days.coverage == pytest.approx(1.0) and days.gaps == 0
    october = api.invoice("padaria-sol", "2026-10")
    assert october.situacao == "fechada" and sum(line.valor for line in october.linhas) == october.total
    assert "2026-10" in [i.mes for i in api.invoices("padaria-sol")]
    # casa-silva reads its meter on day 10: the cycle holding 15/10 is issued in November.
    assert api.invoice("casa-silva", "2026-10-15").primeiro_dia == "2026-10-10"
    assert [v.versao for v in api.invoice_versions("casa-silva", "2026-11")] == [1]
    energy = api.tariff("residencial").versoes[0].raw["energia"]
    assert energy["faixas"][0] == {"ate_kwh": 100.0, "preco": {"kwh": 0.62}}
    comparison = api.compare_tariffs("casa-silva", 2)
    assert comparison.tarifas[0][0] == "residencial" and len(comparison.ciclos) == 2
    alerts = api.alerts("casa-silva")
    done = api.acknowledge("casa-silva", alerts[0].id)
    assert done.reconhecido and done.id == alerts[0].id


def test_commands_change_the_meter_at_once(seeded: Running):
    api = client(seeded, CASA_READ)
    assert api.send_command("casa-silva", "pausar").comando == "pausar"
    assert api.meter("casa-silva").paused
    api.send_command("casa-silva", "limite", 300)
    assert api.meter("casa-silva").limite_alerta_kwh == 300.0
    with pytest.raises(RequestFailed) as failure:
        api.send_command("casa-silva", "multiplicador", -1)
    assert failure.value.status == 422 or failure.value.status == 400


def test_each_refusal_is_its_own_error_with_the_servers_message(seeded: Running):
    with pytest.raises(Unauthorized) as unauthorized:
        client(seeded, "chave-errada").meters()
    assert "chave de administração" in describe_auth_problem(unauthorized.value)
    with pytest.raises(Forbidden, match="padaria-sol"):
        client(seeded, CASA_READ).meter("padaria-sol")
    with pytest.raises(Forbidden) as forbidden:
        client(seeded, REGISTRATION).meters()
    assert "ver os medidores" in describe_auth_problem(forbidden.value, action="ver os medidores")
    tariff = client(seeded).tariff("residencial")
    with pytest.raises(Forbidden, match="administração"):
        client(seeded, CASA_READ).rename_tariff(tariff, "outro nome")
    refused = dict(tariff.versoes[0].raw, tributos={"icms_pct": 100})
    with pytest.raises(RequestFailed, match=r"campo tributos\.icms_pct"):
        client(seeded).save_version("residencial", tariff.versoes[0].vigencia, refused)
    with pytest.raises(NotFound):
        client(seeded).meter("nao-existe")


def test_a_port_where_nothing_listens_is_unreachable():
    # Bound but never listening, and kept bound: the port is refused and nobody else gets it.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with pytest.raises(ServerUnreachable, match="conexão recusada"):
            ApiClient(f"http://127.0.0.1:{port}", ADMIN).meters()


def test_long_poll_returns_readings_after_a_seq_or_nothing_after_the_wait(seeded: Running):
    session = client(seeded).live()
    try:
        last = client(seeded).meter("casa-silva").ultima_leitura
        batch = session.poll("casa-silva", last.seq - 3, 1.0)
        assert [r.seq for r in batch.leituras] == [last.seq - 2, last.seq - 1, last.seq]
        empty = session.poll("casa-silva", last.seq, 0.2)
        assert empty.leituras == () and empty.ultimo_seq == last.seq
    finally:
        session.close()


def test_legacy_meter_through_004s_route(seeded: Running):
    from tests.test_usuario_cli import LEGACY_PAYLOAD, send_like_004_meter

    send_like_004_meter(seeded.port, "velho", LEGACY_PAYLOAD)
    legacy = client(seeded, None).legacy_meter("velho")
    assert (legacy.consumo_atual_kwh, legacy.consumo_total_kwh, legacy.valor_fatura) == (312.0, 4821.0, "R$ 2410.50")
    assert legacy.historico == ("22/11/2026 09:59:50  201 kWh",)
    with pytest.raises(NotFound):
        client(seeded, None).legacy_meter("nao-existe")


def test_one_client_is_safe_to_share_between_threads(seeded: Running):
    api = client(seeded)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                assert len(api.meters().medidores) == 3
        except BaseException as exc:  # noqa: BLE001 - collected and re-raised by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    api.close()
