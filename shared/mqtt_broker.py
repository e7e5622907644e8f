"""Where an MQTT broker is and how to log in to it, for `medidor --fonte mqtt` and `servidor --mqtt`.

Parsed once from a `mqtt://host:port` or `mqtts://host:port` URL and the login/TLS options, and
validated when built. No MQTT library is imported here (`shared` goes into every image, the
terminal app's too): `configure` hands the settings to a paho client by duck typing.

Secrets: a password never comes in the URL (it would show in `ps`, in shell history and in every
log line that names the broker); it comes from MONITOR_MQTT_SENHA or a file. `Broker` never
prints it (`repr=False`) and `Broker.address` is what logs show.
"""
from __future__ import annotations

import argparse
import os
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SCHEMES = {"mqtt": False, "mqtts": True}
DEFAULT_PORTS = {False: 1883, True: 8883}  # IANA: 1883 plain MQTT, 8883 MQTT over TLS
# Environment variables that stand for the login options (a container passes secrets this way).
ENV_USER = "MONITOR_MQTT_USUARIO"
ENV_PASSWORD = "MONITOR_MQTT_SENHA"
ENV_PASSWORD_FILE = "MONITOR_MQTT_SENHA_ARQUIVO"
# A password file holds one line; anything longer is the wrong file, not a password.
MAX_PASSWORD_BYTES = 4096


class BrokerError(ValueError):
    """Invalid broker settings; the message is pt-BR and names the option."""


@dataclass(frozen=True, slots=True)
class Broker:
    host: str
    port: int
    tls: bool = False
    usuario: str | None = None
    senha: str | None = field(default=None, repr=False)
    ca: Path | None = None          # CA bundle that signed the broker's certificate (default: the system's)
    cert: Path | None = None        # client certificate, for brokers that require one
    chave: Path | None = None       # the client certificate's private key

    def __post_init__(self) -> None:
        if not self.host:
            raise BrokerError("o endereço do broker precisa de um host: mqtt://host:1883")
        if not 0 < self.port < 65536:
            raise BrokerError(f"porta do broker inválida: {self.port}")
        if (self.ca or self.cert or self.chave) and not self.tls:
            raise BrokerError("--tls-ca, --tls-cert e --tls-chave valem só com TLS: use mqtts://host:8883")
        if bool(self.cert) != bool(self.chave):
            raise BrokerError("--tls-cert e --tls-chave vão juntos (o certificado do cliente e a chave dele)")
        if self.senha is not None and not self.usuario:
            raise BrokerError(f"a senha do broker ({ENV_PASSWORD}) precisa de um usuário (--usuario-mqtt)")
        for option, path in (("--tls-ca", self.ca), ("--tls-cert", self.cert), ("--tls-chave", self.chave)):
            if path is not None and not path.is_file():
                raise BrokerError(f"{option}: arquivo não encontrado: {path}")

    @property
    def address(self) -> str:
        """The broker as logs show it: scheme, host and port; never the login."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def tls_context(self) -> ssl.SSLContext:
        """Certificate and host name checked (the system's CAs, or --tls-ca); TLS 1.2 at least."""
        context = ssl.create_default_context(cafile=str(self.ca) if self.ca else None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.cert is not None:
            context.load_cert_chain(str(self.cert), str(self.chave))
        return context

    def configure(self, client: Any) -> None:
        """Set the login and TLS on a paho `Client` (before it connects)."""
        if self.usuario:
            client.username_pw_set(self.usuario, self.senha)
        if self.tls:
            client.tls_set_context(self.tls_context())


def parse_url(url: str) -> tuple[str, int, bool, str | None]:
    """(host, port, tls, user) of `mqtt[s]://[user@]host[:port]`; BrokerError otherwise."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise BrokerError(f"endereço do broker inválido: {_without_password(url)!r}") from None
    if parts.scheme not in SCHEMES:
        raise BrokerError(f"o broker deve ser mqtt://host:1883 ou mqtts://host:8883 (recebido "
                          f"{_without_password(url)!r})")
    if parts.password is not None:
        raise BrokerError(f"não ponha a senha no endereço do broker (ela apareceria em ps e nos registros): "
                          f"use {ENV_PASSWORD} ou --senha-mqtt-arquivo")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise BrokerError(f"o endereço do broker não tem caminho: mqtt://host:porta (recebido "
                          f"{_without_password(url)!r})")
    tls = SCHEMES[parts.scheme]
    return parts.hostname or "", port or DEFAULT_PORTS[tls], tls, parts.username or None


def _without_password(url: str) -> str:
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, sep, login = head.partition("://")
    return f"{scheme}{sep}{login.split(':', 1)[0]}@{tail}" if sep else tail


def read_password_file(path: Path) -> str:
    try:
        data = path.read_bytes()[:MAX_PASSWORD_BYTES + 1]
    except OSError as exc:
        raise BrokerError(f"--senha-mqtt-arquivo: não foi possível ler {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_PASSWORD_BYTES:
        raise BrokerError(f"--senha-mqtt-arquivo: {path} é grande demais para uma senha")
    return data.decode("utf-8", errors="replace").rstrip("\r\n")


def add_options(parser: argparse.ArgumentParser, title: str) -> argparse._ArgumentGroup:
    """The login and TLS options, the same in every program that talks to a broker."""
    env = os.environ.get
    group = parser.add_argument_group(title)
    group.add_argument("--usuario-mqtt", default=env(ENV_USER) or None, metavar="USUARIO",
                       help=f"usuário no broker (ou {ENV_USER}); a senha vem de {ENV_PASSWORD} ou de "
                            "--senha-mqtt-arquivo, nunca da linha de comando")
    group.add_argument("--senha-mqtt-arquivo", type=Path, default=env(ENV_PASSWORD_FILE) or None, metavar="ARQUIVO",
                       help=f"arquivo com a senha do broker numa linha (ou {ENV_PASSWORD_FILE})")
    group.add_argument("--tls-ca", type=Path, metavar="ARQUIVO",
                       help="CA que assinou o certificado do broker (padrão: as do sistema); com mqtts://")
    group.add_argument("--tls-cert", type=Path, metavar="ARQUIVO", help="certificado do cliente, se o broker exigir")
    group.add_argument("--tls-chave", type=Path, metavar="ARQUIVO", help="chave privada do certificado do cliente")
    return group


def broker_from_args(url: str, args: argparse.Namespace) -> Broker:
    """The Broker of `url` and the options of `add_options`; BrokerError with a pt-BR message."""
    host, port, tls, url_user = parse_url(url)
    password = os.environ.get(ENV_PASSWORD) or None
    if args.senha_mqtt_arquivo is not None:
        password = read_password_file(args.senha_mqtt_arquivo)
    return Broker(host, port, tls, args.usuario_mqtt or url_user, password, args.tls_ca, args.tls_cert, args.tls_chave)
