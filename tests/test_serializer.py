"""serialize_response / serialize_request: exact bytes, framing owned by the serializer."""
from __future__ import annotations

from http import HTTPStatus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.http import CONTINUE_BYTES, Response, ResponseParser, serialize_request, serialize_response


def test_response_has_status_line_headers_length_and_body():
    resp = Response(200, (("content-type", "text/plain"),), b"oi")
    assert serialize_response(resp) == (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\noi"
    )


def test_response_without_keep_alive_says_connection_close():
    data = serialize_response(Response(404, (("connection", "keep-alive"),)), keep_alive=False)
    assert data == b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


def test_extra_headers_follow_the_response_headers():
    data = serialize_response(Response(201, (("a", "1"),)), extra_headers=(("date", "x"),))
    assert data.startswith(b"HTTP/1.1 201 Created\r\na: 1\r\ndate: x\r\ncontent-length: 0\r\n")


def test_head_response_keeps_length_of_the_body_but_omits_it():
    data = serialize_response(Response(200, (), b"12345"), head_only=True)
    assert data == b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"


@pytest.mark.parametrize("status", [HTTPStatus.CONTINUE, HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED])
def test_statuses_without_content_have_no_length_and_no_body(status):
    data = serialize_response(Response(status, (), b"ignored"))
    assert b"content-length" not in data and data.endswith(b"\r\n\r\n")


def test_app_supplied_framing_headers_are_replaced():
    resp = Response(200, (("content-length", "99"), ("transfer-encoding", "chunked")), b"abc")
    assert serialize_response(resp) == b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc"


def test_unknown_status_gets_a_reason():
    assert serialize_response(Response(599)).startswith(b"HTTP/1.1 599 Unknown\r\n")


def test_latin1_header_value_is_encoded_as_single_bytes():
    assert b"x-nome: Jo\xe3o\r\n" in serialize_response(Response(200, (("x-nome", "João"),)))


@pytest.mark.parametrize(
    "headers",
    [(("x-a", "1\r\nset-cookie: evil"),), (("x-a", "a\nb"),), (("bad name", "1"),), (("x-a", "€"),)],
    ids=["crlf_injection", "bare_lf", "space_in_name", "not_latin1"],
)
def test_header_that_could_split_the_message_is_refused(headers):
    with pytest.raises(ValueError):
        serialize_response(Response(200, headers))


def test_continue_bytes_are_the_interim_response():
    assert CONTINUE_BYTES == b"HTTP/1.1 100 Continue\r\n\r\n"


def test_get_request_has_no_content_length():
    assert serialize_request("GET", "/?id=abc", (("host", "h"),)) == b"GET /?id=abc HTTP/1.1\r\nhost: h\r\n\r\n"


def test_empty_post_declares_zero_length():
    assert serialize_request("POST", "/x", ()) == b"POST /x HTTP/1.1\r\ncontent-length: 0\r\n\r\n"


def test_request_with_body_declares_its_length():
    data = serialize_request("DELETE", "/x", (("host", "h"), ("content-length", "1")), b"abc")
    assert data == b"DELETE /x HTTP/1.1\r\nhost: h\r\ncontent-length: 3\r\n\r\nabc"


def test_chunked_request_sends_body_as_one_chunk_and_terminator():
    data = serialize_request("POST", "/x", (), b"hello", chunked=True)
    assert data == b"POST /x HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    assert serialize_request("POST", "/x", (), chunked=True).endswith(b"\r\n\r\n0\r\n\r\n")


@pytest.mark.parametrize("method, target", [("GET", "/a b"), ("GET", ""), ("G T", "/"), ("GET", "/\r\n")])
def test_request_line_that_would_break_is_refused(method, target):
    with pytest.raises(ValueError):
        serialize_request(method, target, ())


statuses = st.sampled_from([200, 201, 204, 301, 304, 400, 404, 413, 500, 503])
field_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20).map(str.strip)


@settings(max_examples=100, deadline=None)
@given(statuses, st.binary(max_size=100), st.booleans(), st.booleans(), field_values)
def test_serialized_response_parses_back(status, body, keep_alive, head, value):
    data = serialize_response(Response(status, (("x-v", value),), body), head_only=head, keep_alive=keep_alive)
    parser = ResponseParser()
    parser.receive(data)
    got = parser.next_response(head=head)
    assert got is not None and got.status == status and got.header("x-v") == value
    expected = b"" if head or status in (204, 304) else body
    assert got.body == expected and got.close == (not keep_alive)
