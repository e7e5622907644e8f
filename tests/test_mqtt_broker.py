"""Broker settings shared by `medidor --fonte mqtt` and `servidor --mqtt`: secrets never in the URL."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from shared import argparse_pt
from shared.mqtt_broker import Broker, BrokerError, add_options, broker_from_args, parse_url


def args(*argv: str) -> argparse.Namespace:
    parser = argparse_pt.parser(prog="x")
    add_options(parser, "mqtt")
    return parser.parse_args(list(argv))


@pytest.mark.parametrize("url, expected", [
    ("mqtt://127.0.0.1:1883", ("127.0.0.1", 1883, False, None)),
    ("mqtt://broker.local", ("broker.local", 1883, False, None)),
    ("mqtts://broker.local", ("broker.local", 8883, True, None)),
    ("mqtts://casa@broker.local:8884/", ("broker.local", 8884, True, "casa")),
])
def test_urls(url: str, expected: tuple):
    assert parse_url(url) == expected


@pytest.mark.parametrize("url, said", [
    ("http://broker:1883", "mqtt://host:1883"),
    ("mqtt://:1883", "host"),
    ("mqtt://broker:99999", "inválido"),
    ("mqtt://broker:1883/casa", "caminho"),
])
def test_bad_urls_are_refused(url: str, said: str):
    with pytest.raises(BrokerError, match=said):
        host, port, tls, user = parse_url(url)
        Broker(host, port, tls, user)


def test_a_password_in_the_url_is_refused_without_repeating_it():
    with pytest.raises(BrokerError) as caught:
        parse_url("mqtt://casa:segredo123@broker:1883")
    assert "segredo123" not in str(caught.value) and "MONITOR_MQTT_SENHA" in str(caught.value)
    with pytest.raises(BrokerError) as caught:
        parse_url("http://casa:segredo123@broker:1883")
    assert "segredo123" not in str(caught.value)


def test_password_comes_from_the_environment_or_a_file_and_is_never_shown(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MONITOR_MQTT_SENHA", "do-ambiente")
    broker = broker_from_args("mqtt://broker", args("--usuario-mqtt", "casa"))
    assert (broker.usuario, broker.senha) == ("casa", "do-ambiente")
    secret = tmp_path / "senha"
    secret.write_text("do-arquivo\n")
    broker = broker_from_args("mqtt://broker", args("--usuario-mqtt", "casa", "--senha-mqtt-arquivo", str(secret)))
    assert broker.senha == "do-arquivo"
    assert "do-arquivo" not in repr(broker) and "do-arquivo" not in broker.address
    assert broker.address == "mqtt://broker:1883"


def test_a_password_without_a_user_and_tls_files_without_tls_are_refused(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MONITOR_MQTT_SENHA", "x")
    with pytest.raises(BrokerError, match="usuário"):
        broker_from_args("mqtt://broker", args())
    monkeypatch.delenv("MONITOR_MQTT_SENHA")
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    with pytest.raises(BrokerError, match="mqtts://"):
        broker_from_args("mqtt://broker", args("--tls-ca", str(ca)))
    with pytest.raises(BrokerError, match="não encontrado"):
        broker_from_args("mqtts://broker", args("--tls-ca", str(tmp_path / "falta.pem")))
    with pytest.raises(BrokerError, match="juntos"):
        broker_from_args("mqtts://broker", args("--tls-cert", str(ca)))
