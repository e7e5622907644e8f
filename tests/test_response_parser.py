"""ResponseParser: framing by Content-Length, chunked and close; interim responses; errors."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.http import Limits, ProtocolError, Response, ResponseError, ResponseParser


def parse(data: bytes, *, eof: bool = False, head: bool = False, limits: Limits | None = None) -> Response | None:
    parser = ResponseParser(limits) if limits else ResponseParser()
    parser.receive(data)
    if eof:
        parser.receive_eof()
    return parser.next_response(head=head)


def test_content_length_body_is_returned_and_connection_kept():
    resp = parse(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{\"a\": 1}")
    assert resp.status == 200 and resp.json() == {"a": 1} and not resp.close
    assert resp.header("content-type") == "application/json"


def test_incomplete_body_needs_more_data():
    parser = ResponseParser()
    parser.receive(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab")
    assert parser.next_response() is None
    parser.receive(b"cd")
    assert parser.next_response().body == b"abcd"


def test_chunked_body_is_decoded_and_trailers_dropped():
    resp = parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nEtag: 1\r\n\r\n")
    assert resp.body == b"abcde" and not resp.close


def test_body_without_length_runs_until_close_like_the_004_server():
    parser = ResponseParser()
    parser.receive(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"abc\": {}}")
    assert parser.next_response() is None
    parser.receive_eof()
    resp = parser.next_response()
    assert resp.json() == {"abc": {}} and resp.close


def test_interim_responses_are_skipped():
    resp = parse(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
    assert resp.status == 201


@pytest.mark.parametrize("status", [204, 304])
def test_no_content_statuses_have_no_body(status):
    parser = ResponseParser()
    parser.receive(b"HTTP/1.1 %d X\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" % status)
    assert parser.next_response().body == b""
    assert parser.next_response().status == 200


def test_head_response_has_no_body_despite_content_length():
    resp = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", head=True)
    assert resp.body == b"" and resp.header("content-length") == "500"


def test_connection_close_is_reported():
    assert parse(b"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n").close


def test_http10_closes_unless_keep_alive():
    assert parse(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").close
    assert not parse(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").close


def test_successive_responses_on_one_connection_come_out_in_order():
    parser = ResponseParser()
    parser.receive(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nb")
    assert [parser.next_response().body, parser.next_response().body] == [b"a", b"b"]
    assert parser.next_response() is None


def test_missing_reason_phrase_is_tolerated():
    assert parse(b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").status == 200


def test_identical_repeated_lengths_are_accepted():
    assert parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok").body == b"ok"


def test_transfer_encoding_wins_over_length_and_closes():
    resp = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n")
    assert resp.body == b"a" and resp.close


ERROR_CASES = [
    ("not_http", b"SSH-2.0-OpenSSH\r\n\r\n", False),
    ("http2_status_line", b"HTTP/2 200\r\n\r\n", False),
    ("status_out_of_range", b"HTTP/1.1 700 Nope\r\n\r\n", False),
    ("bad_header", b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n", False),
    ("conflicting_lengths", b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", False),
    ("bad_length", b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", False),
    ("gzip_chunked", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", False),
    ("bad_chunk", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", False),
    ("closed_without_response", b"", True),
    ("closed_mid_head", b"HTTP/1.1 200 OK\r\n", True),
    ("closed_mid_body", b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab", True),
    ("closed_mid_chunks", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", True),
]


@pytest.mark.parametrize("raw, eof", [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_invalid_response_raises_response_error(raw, eof):
    with pytest.raises(ResponseError) as info:
        parse(raw, eof=eof)
    assert info.value.status == 502 and info.value.message


def test_oversized_response_body_is_refused():
    limits = Limits(max_response_body=4)
    with pytest.raises(ResponseError):
        parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", limits=limits)
    with pytest.raises(ResponseError):
        parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n", limits=limits)
    with pytest.raises(ResponseError):
        parse(b"HTTP/1.1 200 OK\r\n\r\n12345", limits=limits)


RESPONSES = (
    b"HTTP/1.1 100 Continue\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\r\nab\r\n0\r\n\r\n"
    b"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\nboom"
)


def _drain(data: bytes, cuts: list[int]) -> list:
    parser = ResponseParser()
    out = []
    start = 0
    try:
        for cut in [*sorted(set(cuts)), len(data)]:
            parser.receive(data[start:cut])
            start = cut
            while (resp := parser.next_response()) is not None:
                out.append(resp)
        parser.receive_eof()
        while True:
            out.append(parser.next_response())
    except ResponseError as exc:
        out.append(("error", exc.message))
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, len(RESPONSES)), max_size=10), st.integers(0, len(RESPONSES)))
def test_response_stream_in_random_splits_gives_same_responses(cuts, truncate):
    data = RESPONSES[:truncate]
    assert _drain(data, [c for c in cuts if c <= truncate]) == _drain(data, [])


def test_full_response_stream_yields_three_responses():
    got = _drain(RESPONSES, list(range(len(RESPONSES))))
    assert [r.body for r in got[:3]] == [b"hello", b"ab", b"boom"] and got[2].close


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_arbitrary_bytes_raise_only_response_errors(data, head):
    parser = ResponseParser(Limits(max_request_line=64, max_header_bytes=128, max_response_body=64))
    try:
        parser.receive(data)
        parser.receive_eof()
        for _ in range(10):
            parser.next_response(head=head)
    except ProtocolError as exc:
        assert isinstance(exc, ResponseError)
