"""RequestParser: raw bytes in, events out; every protocol error with its status."""
from __future__ import annotations

import time
from http import HTTPStatus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.http import (
    CONTINUE_BYTES,
    END_OF_STREAM,
    NEED_DATA,
    SEND_CONTINUE,
    Limits,
    ProtocolError,
    Request,
    RequestParser,
    serialize_request,
)

METER_004 = (
    b"POST /2f1c9a3e-7b1d-4c55-9a0e-1d2f3a4b5c6d HTTP/1.1\r\nHost: localhost:5000\r\n\r\n"
    b'{"consumo_atual_kWh": 12, "consumo_kwh": 3, "consumo_total_kWh": 40, "alerta": "", '
    b'"Fatura_Atual": [{"data_hora": "01/02/2024 10:00:00", "consumo_kwh": 3}], "Valor_da_Fatura": "R$ 20.00"}'
)
MENU_004 = b"GET /?id=abc HTTP/1.1\r\nHost: localhost:5000\r\n\r\n"


def legacy_posts(method: str, target: str) -> bool:
    return method == "POST"


def events(parser: RequestParser) -> list:
    """Drain events until the parser needs data or the stream ended."""
    out = []
    while True:
        event = parser.next_event()
        out.append(event)
        if event is NEED_DATA or event is END_OF_STREAM:
            return out


def parse_all(data: bytes, *, eof: bool = True, **kwargs) -> list:
    parser = RequestParser(**kwargs)
    parser.receive(data)
    if eof:
        parser.receive_eof()
    return events(parser)


def feed_in_pieces(data: bytes, cuts: list[int], **kwargs) -> list:
    """Feed `data` split at `cuts`, collecting the non-NEED_DATA events, then EOF."""
    parser = RequestParser(**kwargs)
    out = []
    start = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        parser.receive(data[start:cut])
        start = cut
        out.extend(e for e in events(parser) if e is not NEED_DATA)
    parser.receive_eof()
    out.extend(events(parser))
    return out


# -- the legacy 004 wire format -----------------------------------------------------------------


def test_legacy_meter_post_without_length_reads_body_until_close():
    parser = RequestParser(body_until_close=legacy_posts)
    parser.receive(METER_004)
    assert parser.next_event() is NEED_DATA
    assert parser.pending()
    parser.receive_eof()
    request = parser.next_event()
    assert isinstance(request, Request)
    assert request.method == "POST" and request.path == "/2f1c9a3e-7b1d-4c55-9a0e-1d2f3a4b5c6d"
    assert request.json()["Valor_da_Fatura"] == "R$ 20.00"
    assert parser.next_event() is END_OF_STREAM


def test_post_without_length_has_no_body_by_default():
    head, _, _ = METER_004.partition(b"\r\n\r\n")
    request, need = parse_all(head + b"\r\n\r\n", eof=False)
    assert request.body == b"" and need is NEED_DATA


def test_legacy_menu_get_with_query_is_parsed():
    request, end = parse_all(MENU_004)
    assert (request.method, request.path, request.query) == ("GET", "/", {"id": "abc"})
    assert request.header("HOST") == "localhost:5000" and request.keep_alive
    assert end is END_OF_STREAM


def test_until_close_body_over_limit_is_refused_before_close():
    parser = RequestParser(Limits(max_body_bytes=10), body_until_close=legacy_posts)
    parser.receive(b"POST /x HTTP/1.1\r\n\r\n" + b"a" * 11)
    with pytest.raises(ProtocolError) as info:
        parser.next_event()
    assert info.value.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE


# -- well-formed requests -----------------------------------------------------------------------


def test_pipelined_requests_come_out_in_order():
    data = (
        b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
        b"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
        b"DELETE /c HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    got = parse_all(data)
    assert [(r.method, r.target, r.body) for r in got[:3]] == [("GET", "/a", b""), ("POST", "/b", b"abc"), ("DELETE", "/c", b"")]
    assert got[3] is END_OF_STREAM


def test_leading_empty_lines_before_request_line_are_ignored():
    request, _ = parse_all(b"\r\n\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert request.target == "/"


def test_bare_lf_line_endings_are_tolerated_in_head():
    request, _ = parse_all(b"POST /x HTTP/1.1\nHost: h\nContent-Length: 2\n\nok")
    assert request.header("host") == "h" and request.body == b"ok"


def test_header_names_are_lower_cased_and_values_trimmed():
    request, _ = parse_all(b"GET / HTTP/1.1\r\nX-Thing:  \t spaced value\t \r\nHost: h\r\n\r\n")
    assert request.headers == (("x-thing", "spaced value"), ("host", "h"))


def test_obs_text_in_header_value_is_kept_as_latin1():
    request, _ = parse_all(b"GET / HTTP/1.1\r\nX-Nome: Jo\xe3o\r\n\r\n")
    assert request.header("x-nome") == "João"


def test_http10_request_is_accepted_and_not_kept_alive():
    request, _ = parse_all(b"GET / HTTP/1.0\r\n\r\n")
    assert request.version == "HTTP/1.0" and not request.keep_alive


def test_higher_http1_minor_version_is_handled_as_1_1():
    request, _ = parse_all(b"GET / HTTP/1.7\r\nHost: h\r\n\r\n")
    assert request.version == "HTTP/1.1"


def test_chunked_body_with_extensions_and_trailers_is_decoded():
    data = (
        b"POST /log HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value;flag\r\nhello\r\n"
        b'6 ; q="a \\"b\\""\r\n world\r\n'
        b"0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
        b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    first, second, end = parse_all(data)
    assert first.body == b"hello world" and second.target == "/next" and end is END_OF_STREAM


def test_body_split_across_reads_is_reassembled():
    data = b"PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789"
    got = feed_in_pieces(data, [3, 20, 41, 50, 55])
    assert got[0].body == b"0123456789" and got[1] is END_OF_STREAM


def test_pending_tells_idle_from_mid_request():
    parser = RequestParser()
    assert not parser.pending()
    parser.receive(b"\r\n")
    assert not parser.pending()
    parser.receive(b"GE")
    assert parser.pending() and parser.next_event() is NEED_DATA
    parser.receive(b"T / HTTP/1.1\r\n\r\n")
    assert isinstance(parser.next_event(), Request)
    assert not parser.pending()


def test_end_of_stream_only_after_eof_with_nothing_buffered():
    parser = RequestParser()
    assert parser.next_event() is NEED_DATA
    parser.receive_eof()
    assert parser.next_event() is END_OF_STREAM
    assert parser.next_event() is END_OF_STREAM


# -- Expect: 100-continue -----------------------------------------------------------------------


def test_expect_continue_is_announced_once_then_body_is_read():
    parser = RequestParser()
    parser.receive(b"POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
    assert parser.next_event() is SEND_CONTINUE
    assert parser.next_event() is NEED_DATA
    parser.receive(b"da")
    assert parser.next_event() is NEED_DATA
    parser.receive(b"ta")
    assert parser.next_event().body == b"data"
    assert CONTINUE_BYTES == b"HTTP/1.1 100 Continue\r\n\r\n"


def test_expect_continue_is_skipped_when_body_already_arrived():
    data = b"POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\ndata"
    request, _ = parse_all(data, eof=False)
    assert request.body == b"data"


def test_expect_continue_with_oversized_length_is_413_not_continue():
    parser = RequestParser(Limits(max_body_bytes=3))
    parser.receive(b"POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
    with pytest.raises(ProtocolError) as info:
        parser.next_event()
    assert info.value.status == 413


def test_expect_continue_is_ignored_for_http10():
    parser = RequestParser()
    parser.receive(b"POST /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
    assert parser.next_event() is NEED_DATA


def test_expect_continue_for_chunked_body():
    parser = RequestParser()
    parser.receive(b"POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert parser.next_event() is SEND_CONTINUE
    parser.receive(b"3\r\nabc\r\n0\r\n\r\n")
    assert parser.next_event().body == b"abc"


# -- errors, table-driven -----------------------------------------------------------------------

SMALL = Limits(max_request_line=64, max_header_bytes=128, max_header_count=4, max_body_bytes=16, max_chunk_line=32)

ERROR_CASES = [
    # (id, raw bytes, expected status)
    ("garbage_line", b"hello\r\n\r\n", 400),
    ("two_part_line", b"GET /\r\n\r\n", 400),
    ("double_space", b"GET  / HTTP/1.1\r\n\r\n", 400),
    ("lower_case_method", b"get / HTTP/1.1\r\n\r\n", 400),
    ("control_char_in_target", b"GET /a\x01b HTTP/1.1\r\n\r\n", 400),
    ("non_ascii_target", b"GET /\xc3\xa1 HTTP/1.1\r\n\r\n", 400),
    ("garbage_version", b"GET / HTTX/1.1\r\n\r\n", 400),
    ("version_without_minor", b"GET / HTTP/1\r\n\r\n", 400),
    ("http2_version", b"GET / HTTP/2.0\r\n\r\n", 505),
    ("http3_version", b"GET / HTTP/3\r\n\r\n", 505),
    ("http09_version", b"GET / HTTP/0.9\r\n\r\n", 505),
    ("incomplete_head_at_eof", b"GET / HTTP/1.1\r\nHost: h\r\n", 400),
    ("incomplete_body_at_eof", b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", 400),
    ("header_without_colon", b"GET / HTTP/1.1\r\nHost h\r\n\r\n", 400),
    ("space_before_colon", b"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),
    ("obs_fold", b"GET / HTTP/1.1\r\nX-A: 1\r\n  continued\r\n\r\n", 400),
    ("bad_header_name", b"GET / HTTP/1.1\r\nX(A): 1\r\n\r\n", 400),
    ("control_char_in_value", b"GET / HTTP/1.1\r\nX-A: a\x00b\r\n\r\n", 400),
    ("bare_cr_in_value", b"GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", 400),
    ("duplicate_host", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("non_numeric_length", b"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400),
    ("negative_length", b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
    ("conflicting_lengths", b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
    ("duplicate_lengths", b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na", 400),
    ("length_list", b"POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\na", 400),
    ("length_and_chunked", b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("chunked_in_http10", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("gzip_coding", b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    ("gzip_then_chunked", b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    ("bad_chunk_size", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    ("chunk_without_crlf", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX0\r\n\r\n", 400),
    ("bad_chunk_extension", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2;=\r\nab\r\n0\r\n\r\n", 400),
    ("bad_trailer", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n", 400),
    ("chunked_cut_at_eof", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 400),
    ("chunk_line_too_long", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;" + b"a" * 40, 400),
    ("expect_other", b"POST / HTTP/1.1\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\na", 417),
    ("request_line_too_long", b"GET /" + b"a" * 70 + b" HTTP/1.1\r\n\r\n", 414),
    ("request_line_too_long_no_crlf", b"GET /" + b"a" * 70, 414),
    ("header_bytes_too_large", b"GET / HTTP/1.1\r\nX-A: " + b"a" * 140 + b"\r\n\r\n", 431),
    ("header_bytes_too_large_unfinished", b"GET / HTTP/1.1\r\nX-A: " + b"a" * 140, 431),
    ("too_many_headers", b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(5)) + b"\r\n", 431),
    ("declared_length_too_large", b"POST / HTTP/1.1\r\nContent-Length: 17\r\n\r\n", 413),
    ("huge_declared_length", b"POST / HTTP/1.1\r\nContent-Length: " + b"9" * 40 + b"\r\n\r\n", 413),
    ("chunked_body_too_large", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n" + b"a" * 16 + b"\r\n1\r\n", 413),
    ("huge_chunk_size", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + b"f" * 20 + b"\r\n", 413),
]


@pytest.mark.parametrize("raw, status", [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_malformed_request_raises_protocol_error_with_status(raw, status):
    parser = RequestParser(SMALL)
    parser.receive(raw)
    parser.receive_eof()
    with pytest.raises(ProtocolError) as info:
        events(parser)
    assert info.value.status == status
    assert info.value.message and info.value.code


@pytest.mark.parametrize("raw, status", [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_malformed_request_fed_byte_by_byte_raises_same_status(raw, status):
    parser = RequestParser(SMALL)
    with pytest.raises(ProtocolError) as info:
        for i in range(len(raw)):
            parser.receive(raw[i : i + 1])
            events(parser)
        parser.receive_eof()
        events(parser)
    assert info.value.status == status


def test_declared_oversized_body_is_refused_from_head_alone():
    parser = RequestParser(SMALL)
    parser.receive(b"POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n")
    with pytest.raises(ProtocolError) as info:
        parser.next_event()
    assert info.value.status == 413


def test_parser_is_dead_after_an_error():
    parser = RequestParser()
    parser.receive(b"BAD\r\n\r\n")
    with pytest.raises(ProtocolError) as first:
        parser.next_event()
    with pytest.raises(ProtocolError) as again:
        parser.next_event()
    assert again.value is first.value
    with pytest.raises(ProtocolError):
        parser.receive(b"GET / HTTP/1.1\r\n\r\n")


def test_error_messages_are_portuguese():
    parser = RequestParser()
    parser.receive(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n")
    with pytest.raises(ProtocolError) as info:
        parser.next_event()
    assert "não suportado" in info.value.message and info.value.code == "nao_implementado"


# -- efficiency ---------------------------------------------------------------------------------


def test_megabyte_body_in_64k_pieces_is_linear():
    body = bytes(range(256)) * 4096
    data = b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    for framing in ("length", "chunked"):
        if framing == "chunked":
            data = serialize_request("POST", "/x", (("host", "h"),), body, chunked=True)
        parser = RequestParser()
        started = time.perf_counter()
        for i in range(0, len(data), 65536):
            parser.receive(data[i : i + 65536])
            event = parser.next_event()
        assert event.body == body
        assert time.perf_counter() - started < 0.5


def test_slow_header_trickle_is_scanned_once():
    parser = RequestParser()
    data = b"GET / HTTP/1.1\r\n" + b"".join(b"X-%02d: %s\r\n" % (i, b"v" * 200) for i in range(90)) + b"\r\n"
    started = time.perf_counter()
    for i in range(0, len(data), 7):
        parser.receive(data[i : i + 7])
        event = parser.next_event()
    assert isinstance(event, Request) and len(event.headers) == 90
    assert time.perf_counter() - started < 1.0


# -- properties ---------------------------------------------------------------------------------

tokens = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
# Visible ASCII and obs-text; DEL is a control character (RFC 9110 §5.5).
header_values = st.text(st.characters(min_codepoint=0x21, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=20)
methods = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "M-SEARCH"])
targets = st.from_regex(r"/[A-Za-z0-9._~%!$&'()*+,;=:@/?-]{0,40}", fullmatch=True)
framing_names = {"content-length", "transfer-encoding", "host", "expect"}
field_lists = st.lists(
    st.tuples(tokens.filter(lambda n: n not in framing_names), header_values), max_size=6
)


@settings(max_examples=150, deadline=None)
@given(methods, targets, field_lists, st.binary(max_size=200), st.booleans())
def test_serialized_request_parses_back_to_the_same_values(method, target, fields, body, chunked):
    headers = (("host", "example"), *fields)
    request, end = parse_all(serialize_request(method, target, headers, body, chunked=chunked))
    assert (request.method, request.target, request.body) == (method, target, body)
    framing = {"content-length", "transfer-encoding"}
    assert tuple(h for h in request.headers if h[0] not in framing) == headers
    assert end is END_OF_STREAM


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_arbitrary_bytes_raise_only_protocol_errors(data, until_close):
    parser = RequestParser(SMALL, body_until_close=legacy_posts if until_close else None)
    try:
        parser.receive(data)
        events(parser)
        parser.receive_eof()
        events(parser)
    except ProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([b"GET ", b"POST ", b"/x", b" HTTP/1.1", b"\r\n", b"\n", b"Host: h", b"Content-Length: 3",
                              b"Transfer-Encoding: chunked", b"3\r\nabc", b"0", b"abc", b":", b" "]), max_size=30).map(b"".join),
)
def test_near_miss_requests_raise_only_protocol_errors(data):
    parser = RequestParser(SMALL)
    try:
        parser.receive(data)
        parser.receive_eof()
        events(parser)
    except ProtocolError:
        pass


def _stream_outcome(data: bytes, cuts: list[int]):
    try:
        return [repr(e) for e in feed_in_pieces(data, cuts, body_until_close=legacy_posts)]
    except ProtocolError as exc:
        return ("error", int(exc.status))


STREAM = (
    b"\r\nGET /?id=abc HTTP/1.1\r\nHost: localhost:5000\r\n\r\n"
    b"PUT /a HTTP/1.1\nHost: h\nContent-Length: 5\n\nhello"
    b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n0\r\nT: 1\r\n\r\n"
    b"POST /meter HTTP/1.1\r\nHost: localhost:5000\r\n\r\n{\"consumo_kwh\": 3}"
)


def test_stream_fed_whole_and_byte_by_byte_gives_same_events():
    whole = _stream_outcome(STREAM, [])
    assert len(whole) == 5 and "POST" in whole[3] and "consumo_kwh" in whole[3]
    assert _stream_outcome(STREAM, list(range(len(STREAM)))) == whole


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, len(STREAM)), max_size=12), st.integers(0, len(STREAM)))
def test_stream_fed_in_random_splits_gives_same_events(cuts, truncate):
    # Truncated streams must fail (or end) the same way whatever the read boundaries were.
    data = STREAM[:truncate]
    assert _stream_outcome(data, [c for c in cuts if c <= truncate]) == _stream_outcome(data, [])
