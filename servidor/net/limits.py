"""The server's resource limits, each with the reason for its default.

The per-request parsing limits (line, headers, body size, timeouts) are shared.http.Limits;
these bound what the server holds across requests and clients: connections, request rate,
memory for bodies, time to take a response. A client is a source address (an IPv6 client is
its /64, what one site is normally given). Zero turns a limit off, max_connections excepted.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ServerLimits:
    # Each connection is a file descriptor, and so is each store file and log. 10,000 stays under
    # the usual 65,536 hard limit with room to spare; beyond it clients get 503 and retry.
    max_connections: int = 10_000
    # A site behind one NAT address may run a few hundred meters, each keeping one keep-alive
    # connection; a browser opens 6, the terminal app a handful. 256 lets such a site in while
    # one address can hold at most 2.5 % of the table. Beyond it: 429. Behind a reverse proxy
    # every client is the proxy's address: set the limit there and 0 here.
    max_connections_per_client: int = 256
    # A meter sends one request per interval (10 s by default); an agent catching up after an
    # outage sends batches back to back, a few ms of server time each; the terminal app loads a
    # screen with about ten. 200 per second, with bursts of 400, covers all of those from one
    # address (a NAT site included) and caps a runaway client at a few percent of what the
    # server can answer. Beyond it: 429 with Retry-After.
    requests_per_second_per_client: float = 200.0
    request_burst_per_client: int = 400
    # Request bodies are held in memory from the moment they are announced until their answer is
    # written. The largest legitimate body (a batch of 1,000 readings) is ~400 KiB, so 64 MiB
    # holds 160 of them at once and keeps the server well under its 300 MB memory target even
    # when every one of 10,000 connections announces a 4 MiB body. Beyond it: 503 + Retry-After.
    body_memory: int = 64 * MIB
    # One address may hold at most a quarter of it, so a single abusive client cannot refuse
    # everyone else's bodies.
    body_memory_per_client: int = 16 * MIB
    # A response the client does not take within this many seconds is dropped with its
    # connection. Our largest answers are a few hundred KiB, which even a 256 kbit/s link takes
    # in about 15 s; a client that stops reading holds one buffered response and a descriptor
    # for this long, never a worker thread.
    write_timeout: float = 20.0

    def __post_init__(self) -> None:
        for name in ("max_connections", "max_connections_per_client", "request_burst_per_client",
                     "body_memory", "body_memory_per_client"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if self.requests_per_second_per_client < 0 or self.write_timeout <= 0:
            raise ValueError("rates must be >= 0 and write_timeout > 0")
        if self.requests_per_second_per_client and self.request_burst_per_client < 1:
            raise ValueError("a request rate needs a burst of at least 1")

    def per_client(self, connections: int, requests_per_second: float) -> "ServerLimits":
        """These limits with other per-client ones; the burst stays twice the rate."""
        return replace(self, max_connections_per_client=connections,
                       requests_per_second_per_client=requests_per_second,
                       request_burst_per_client=max(1, round(2 * requests_per_second)))


DEFAULT_SERVER_LIMITS = ServerLimits()
