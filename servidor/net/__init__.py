"""The server's network layer: raw sockets, one selector thread, a worker pool."""
from .deferred import Deferred
from .limits import DEFAULT_SERVER_LIMITS, ServerLimits
from .server import HttpServer

__all__ = ["DEFAULT_SERVER_LIMITS", "Deferred", "HttpServer", "ServerLimits"]
