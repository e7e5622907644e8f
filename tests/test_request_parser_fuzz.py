"""Fuzzing the request parser with Hypothesis, in bounded time on every `make test`.

Whatever bytes arrive, however they are split, the parser either yields events or raises a
ProtocolError carrying a 4xx/5xx status: never another exception, never a hang, and the same
outcome whole or in pieces. Valid requests survive a serialize → parse round trip. Inputs that
once broke it are kept below as explicit cases.
"""
from __future__ import annotations

import os
from http import HTTPStatus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.http import (
    END_OF_STREAM,
    NEED_DATA,
    SEND_CONTINUE,
    Limits,
    ProtocolError,
    Request,
    RequestParser,
    serialize_request,
)

# Small limits so that limit paths are reached by short inputs too.
LIMITS = Limits(max_request_line=200, max_header_bytes=400, max_header_count=8, max_body_bytes=300, max_chunk_line=40)
# Bounded time: together these run in a few seconds here. A longer hunt:
# FUZZ_EXEMPLOS=50000 .venv/bin/python -m pytest tests/test_request_parser_fuzz.py
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXEMPLOS", 300)), deadline=None)


def legacy(method: str, target: str) -> bool:
    return method == "POST" and not target.startswith("/api/")


def outcome(chunks: list[bytes]) -> list:
    """The events (requests as tuples) and the final error status, feeding `chunks` then EOF."""
    parser = RequestParser(LIMITS, body_until_close=legacy)
    out: list = []
    try:
        for chunk in [*chunks, None]:
            if chunk is None:
                parser.receive_eof()
            else:
                parser.receive(chunk)
            while True:
                event = parser.next_event()
                if event is NEED_DATA:
                    break
                if isinstance(event, Request):
                    out.append((event.method, event.target, event.version, event.headers, event.body))
                    # Whatever the parser accepts, the values' own checks accept too.
                    assert event.path.startswith("/") or event.target.startswith(("http", "*")) or event.path
                    event.keep_alive, event.query  # noqa: B018 - must not raise
                elif event is SEND_CONTINUE:
                    continue                    # a split-dependent interim event: not compared
                else:
                    assert event is END_OF_STREAM
                    out.append("EOF")
                    return out
                assert parser.committed() >= 0
    except ProtocolError as exc:
        assert 400 <= int(exc.status) <= 599 and exc.code and exc.message
        out.append(int(exc.status))
    return out


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, start = [], 0
    for point in points:
        pieces.append(data[start:point])
        start = point
    pieces.append(data[start:])
    return [p for p in pieces if p]


# Realistic fragments, so that mutations land near the interesting paths.
SEEDS = [
    b"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
    b"POST /api/v1/medidores/m1/leituras HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n0\r\nX: y\r\n\r\n",
    b"POST /abc HTTP/1.1\r\nHost: h\r\n\r\n{\"consumo_kwh\": 1}",
    b"PUT /x HTTP/1.1\nExpect: 100-continue\nContent-Length: 2\n\nok",
    b"\r\n\r\nGET http://h/a?b=c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
]
TOKENS = [b"\r\n", b"\n", b" ", b":", b"\t", b"HTTP/1.1", b"HTTP/1.0", b"Content-Length: ", b"Transfer-Encoding: chunked",
          b"0\r\n\r\n", b"ffffffff", b";", b"\x00", b"\xff", b"Host: a", b"Expect: 100-continue", b"-1", b"99999999999999999999"]


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)) * draw(st.integers(1, 3)))
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "delete", "flip", "token"]))
        if kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 8))]
        elif kind == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        else:
            data[at:at] = draw(st.sampled_from(TOKENS))
    return bytes(data)


@FUZZ
@given(data=st.binary(max_size=600), cuts=st.lists(st.integers(0, 600), max_size=8))
def test_any_bytes_give_events_or_a_protocol_error_whatever_the_split(data, cuts):
    assert outcome(split(data, cuts)) == outcome([data])


@FUZZ
@given(data=mutated(), cuts=st.lists(st.integers(0, 2000), max_size=10))
def test_mutated_requests_give_events_or_a_protocol_error_whatever_the_split(data, cuts):
    assert outcome(split(data, cuts)) == outcome([data])


TOKEN_TEXT = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
VALUE_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"), max_size=30)


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
    path=st.text("abcxyz0123456789-_./%", max_size=30),
    headers=st.lists(st.tuples(TOKEN_TEXT, VALUE_TEXT), max_size=5),
    body=st.binary(max_size=200),
    chunked=st.booleans(),
)
def test_serialized_requests_parse_back_exactly(method, path, headers, body, chunked):
    headers = [(n, v.strip(" \t")) for n, v in headers
               if n not in ("content-length", "transfer-encoding", "host", "expect")]
    raw = serialize_request(method, "/" + path, (("host", "h"), *headers), body, chunked=chunked)
    whole = outcome([raw])
    assert outcome([raw[i:i + 1] for i in range(len(raw))]) == whole
    (got_method, target, version, got_headers, got_body), end = whole
    assert (got_method, target, version, got_body) == (method, "/" + path, "HTTP/1.1", body)
    assert end == "EOF"
    sent = {("host", "h"), *headers}
    assert sent <= set(got_headers)


# -- regressions: inputs the fuzzer (or review) found, kept whatever happens to the strategies ------


@pytest.mark.parametrize(("raw", "expected"), [
    # A head that the fast path rejects for its length must still get the slow path's exact 414.
    (b"GET /" + b"a" * 300 + b" HTTP/1.1\r\n\r\n", HTTPStatus.REQUEST_URI_TOO_LONG),
    # Whitespace before the colon matches no fast-path rule and must be the RFC's 400.
    (b"GET / HTTP/1.1\r\nHost : h\r\n\r\n", HTTPStatus.BAD_REQUEST),
    # A bare CR inside a value is refused on both paths.
    (b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", HTTPStatus.BAD_REQUEST),
    # Nine headers against a limit of eight: 431 from the slow path, not a fast-path accept.
    (b"GET / HTTP/1.1\r\n" + b"".join(b"X%d: v\r\n" % i for i in range(9)) + b"\r\n",
     HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE),
])
def test_kept_regressions(raw, expected):
    assert outcome([raw]) == [int(expected)]
