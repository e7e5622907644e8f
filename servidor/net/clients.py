"""Per-client accounting: connections held and request rate, by source address.

The selector thread admits and releases connections; workers take a token per request. A
client's record lives while it has connections or its bucket is still refilling, so the table
stays as small as the set of recent clients.
"""
from __future__ import annotations

import ipaddress
import threading
import time
from typing import Callable

from .limits import ServerLimits

# IPv6 sites are normally given a /64 and a host picks any address in it freely: counting per
# address would let one host multiply its limits by 2**64.
IPV6_CLIENT_PREFIX = 64


def client_key(peer: object) -> str:
    """The address a peer is counted under: IPv4 as is, IPv6 by its /64 (v4-mapped as IPv4)."""
    host = peer[0] if isinstance(peer, tuple) and peer else str(peer)
    if ":" not in host:
        return host
    try:
        address = ipaddress.IPv6Address(host.split("%", 1)[0])
    except ValueError:
        return host
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False))


class Client:
    """What the server holds for one address. Fields change under the owning table's locks."""

    __slots__ = ("key", "connections", "tokens", "stamp", "held")

    def __init__(self, key: str, tokens: float, now: float) -> None:
        self.key = key
        self.connections = 0
        self.tokens = tokens           # request bucket (see ClientTable.take_request)
        self.stamp = now               # when `tokens` was last brought up to date
        self.held = 0                  # body bytes in memory (MemoryBudget)

    def __repr__(self) -> str:
        return f"<Client {self.key} conns={self.connections} held={self.held}>"


class ClientTable:
    def __init__(self, limits: ServerLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_connections = limits.max_connections_per_client
        self._rate = limits.requests_per_second_per_client
        self._burst = float(limits.request_burst_per_client)
        self._clock = clock
        self._lock = threading.Lock()
        self._clients: dict[str, Client] = {}

    def __len__(self) -> int:
        return len(self._clients)

    def admit(self, peer: object) -> Client | None:
        """The client of a new connection, counted; None when it already holds its maximum."""
        key = client_key(peer)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = Client(key, self._burst, self._clock())
            if self._max_connections and client.connections >= self._max_connections:
                return None
            client.connections += 1
            return client

    def release(self, client: Client) -> None:
        """A connection of `client` closed."""
        with self._lock:
            client.connections -= 1

    def take_request(self, client: Client) -> float:
        """Count one request: 0.0 when allowed, else the seconds until the next one would be.

        A token bucket (RFC 6585 §4 leaves the policy to the server): `burst` requests at once,
        refilled at `rate` per second, so steady clients never notice it.
        """
        if not self._rate:
            return 0.0
        with self._lock:
            now = self._clock()
            tokens = min(self._burst, client.tokens + (now - client.stamp) * self._rate)
            client.stamp = now
            if tokens >= 1.0:
                client.tokens = tokens - 1.0
                return 0.0
            client.tokens = tokens
            return (1.0 - tokens) / self._rate

    def sweep(self) -> None:
        """Forget clients with no connection, no memory held and a full bucket again."""
        now = self._clock()
        with self._lock:
            idle = [key for key, c in self._clients.items()
                    if c.connections <= 0 and c.held <= 0
                    and (not self._rate or c.tokens + (now - c.stamp) * self._rate >= self._burst)]
            for key in idle:
                del self._clients[key]
