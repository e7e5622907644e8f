"""A response that will be ready later: what a long-poll handler returns instead of a Response.

The server releases the worker at once and parks the connection (unread) until `resolve`;
the app owns the deadline and resolves with its own answer (e.g. 204) when the wait ends.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

from shared.http.messages import Response

log = logging.getLogger("servidor.net")

Callback = Callable[[Response], None]


class Deferred:
    """A one-shot slot for a Response, filled from any thread; the first `resolve` wins."""

    __slots__ = ("_lock", "_response", "_callbacks")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._response: Response | None = None
        self._callbacks: list[Callback] = []

    @property
    def resolved(self) -> bool:
        return self._response is not None

    @property
    def response(self) -> Response | None:
        """The response once resolved, else None."""
        return self._response

    def resolve(self, response: Response) -> bool:
        """Fill the slot and run the callbacks in this thread; False if it was already resolved.

        Raises TypeError for anything but a Response, so a wrong value fails in the app's
        thread, where it is visible, instead of in the server's.
        """
        if not isinstance(response, Response):
            raise TypeError(f"Deferred.resolve expects a Response, got {type(response).__name__}")
        with self._lock:
            if self._response is not None:
                return False
            self._response = response
            callbacks, self._callbacks = self._callbacks, []
        # Callbacks run outside the lock so one may resolve or inspect another Deferred freely.
        for callback in callbacks:
            _run(callback, response)
        return True

    def add_callback(self, callback: Callback) -> None:
        """Call `callback(response)` on resolve; at once, in this thread, if already resolved."""
        with self._lock:
            if self._response is None:
                self._callbacks.append(callback)
                return
            response = self._response
        _run(callback, response)


def _run(callback: Callback, response: Response) -> None:
    # A failing callback must not stop the others nor surface in the resolver's thread,
    # which belongs to the app and knows nothing about connections.
    try:
        callback(response)
    except Exception:
        log.exception("a continuação %r de um pedido adiado falhou", callback)
