"""The server's network layer: raw sockets, one selector thread, a worker pool."""
from .deferred import Deferred
from .server import HttpServer

__all__ = ["Deferred", "HttpServer"]
