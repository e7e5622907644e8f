"""A port for a server a test starts later or in another process, without the bind-close race.

Binding port 0, closing and handing the number over lets any other program be given the same
port in between. `reserved_port` keeps it bound (SO_REUSEADDR, never listening: connections to it
are refused) for as long as the `with` block runs. A server that binds it with SO_REUSEADDR, as
`socket.create_server` and asyncio's servers do on POSIX, may listen on it meanwhile; the kernel
hands it to nobody else.
"""
from __future__ import annotations

import socket
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def reserved_port(host: str = "127.0.0.1") -> Iterator[int]:
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind((host, 0))
        yield holder.getsockname()[1]
    finally:
        holder.close()
