"""A blocking client of the node's control port (shared/node_protocol.py): one connection per
question, used by `medidor controle` and the terminal app's Controle tab."""
from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from shared.node_protocol import AUTH, AUTH_OK, AnswerReader, ProtocolError, is_error, request_line

# Seconds to connect and to wait for the whole answer: the node answers from memory (RELOAD
# reads one small file), so a few seconds means it is not answering at all.
DEFAULT_TIMEOUT_S = 5.0
RECV_BYTES = 65536


class NodeUnreachable(Exception):
    """The control port did not answer; the message is pt-BR."""


@dataclass(frozen=True, slots=True)
class Answer:
    lines: tuple[str, ...]
    failed: bool

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def parse_address(text: str) -> tuple[str, int]:
    """`HOST:PORTA` (IPv6 as `[::1]:PORTA`) → (host, port); ValueError with a pt-BR message."""
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"endereço {text!r} inválido: use HOST:PORTA, por exemplo 127.0.0.1:7010")
    return host, int(port)


def _read_answer(sock: socket.socket, verb: str, deadline: float) -> AnswerReader:
    reader = AnswerReader(verb)
    while not reader.done:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise NodeUnreachable("o nó não terminou de responder a tempo")
        sock.settimeout(remaining)
        data = sock.recv(RECV_BYTES)
        if not data:
            if reader.lines and not reader.block:
                break
            raise NodeUnreachable("o nó fechou a conexão antes de responder")
        reader.feed(data)
    return reader


def ask(address: str, verb: str, target: str | None = None, *, key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S) -> Answer:
    """Send one command to the node at `address` (`HOST:PORTA`) and return its answer."""
    host, port = parse_address(address)
    deadline = time.monotonic() + timeout
    try:
        line = request_line(verb, target)
    except ValueError as exc:
        raise NodeUnreachable(str(exc)) from None
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            if key:
                sock.sendall(request_line(AUTH, key))
                auth = _read_answer(sock, AUTH, deadline)
                if not auth.lines or auth.lines[0] != AUTH_OK:
                    raise NodeUnreachable("o nó recusou a chave de controle")
            sock.sendall(line)
            if verb.upper() == "QUIT":
                return Answer((), False)
            reader = _read_answer(sock, verb, deadline)
    except ProtocolError as exc:
        raise NodeUnreachable(f"resposta fora do protocolo: {exc}") from None
    except socket.timeout:
        raise NodeUnreachable(f"{host}:{port} não respondeu em {timeout:g} s") from None
    except OSError as exc:
        raise NodeUnreachable(f"não foi possível falar com {host}:{port}: {exc.strerror or exc}") from None
    lines = tuple(reader.lines)
    return Answer(lines, bool(lines) and is_error(lines[0]))
