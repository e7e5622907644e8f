"""Named limits for HTTP/1.1 parsing and connections, each with the reason for its value."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    # Our longest legitimate target is a consumption query with two ISO dates: well under 2 KiB.
    # 8 KiB is what most servers accept (nginx large_client_header_buffers); longer → 414.
    max_request_line: int = 8 * 1024
    # Browsers with cookies stay under 16 KiB of headers; 32 KiB leaves room without inviting abuse → 431.
    max_header_bytes: int = 32 * 1024
    # Real clients send 5-20 headers; 100 bounds the per-request parsing work → 431.
    max_header_count: int = 100
    # A batch of 1000 readings with every measurement code is ~400 KiB of JSON; 4 MiB covers
    # it tenfold and the 004 meter's ever-growing history for years. Larger → 413.
    max_body_bytes: int = 4 * 1024 * 1024
    # A single chunk-size line is a hex number plus optional extensions; 1 KiB is generous.
    max_chunk_line: int = 1024
    # Keep-alive connections with no request in progress are closed after this (seconds).
    # Longer than the meters' default 10 s interval so an agent keeps one connection.
    idle_timeout: float = 75.0
    # A request that has started must complete within this (seconds), else 408: slowloris bound.
    read_timeout: float = 30.0
    # Client side: a response body larger than this is refused. A year of 1-minute readings
    # exported as JSON is ~40 MiB; 64 MiB bounds a misbehaving server without blocking exports.
    max_response_body: int = 64 * 1024 * 1024


DEFAULT_LIMITS = Limits()
