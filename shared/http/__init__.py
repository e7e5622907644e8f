"""Sans-I/O HTTP/1.1 for the whole suite: parsers, serializer, message values, limits, errors.

Bytes and values only, like h11: nothing here opens a socket. The client that moves these bytes
is `shared.http_client`; the server is `servidor.net`.
"""
from .errors import (
    BadRequest,
    ExpectationFailed,
    HeaderFieldsTooLarge,
    NotImplementedByServer,
    PayloadTooLarge,
    ProtocolError,
    RequestTimeout,
    ResponseError,
    UriTooLong,
    VersionNotSupported,
)
from .limits import DEFAULT_LIMITS, Limits
from .messages import Headers, Request, Response
from .request_parser import END_OF_STREAM, NEED_DATA, SEND_CONTINUE, Event, RequestParser, Sentinel
from .response_parser import ResponseParser
from .serializer import CONTINUE_BYTES, serialize_request, serialize_response

__all__ = [
    "BadRequest",
    "CONTINUE_BYTES",
    "DEFAULT_LIMITS",
    "END_OF_STREAM",
    "Event",
    "ExpectationFailed",
    "HeaderFieldsTooLarge",
    "Headers",
    "Limits",
    "NEED_DATA",
    "NotImplementedByServer",
    "PayloadTooLarge",
    "ProtocolError",
    "Request",
    "RequestParser",
    "RequestTimeout",
    "Response",
    "ResponseError",
    "ResponseParser",
    "SEND_CONTINUE",
    "Sentinel",
    "UriTooLong",
    "VersionNotSupported",
    "serialize_request",
    "serialize_response",
]
