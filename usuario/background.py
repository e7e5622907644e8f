"""The one way a thread worker calls the API: failures go to the app as messages, and the result
of a worker that was cancelled meanwhile (a newer request replaced it) is dropped."""
from __future__ import annotations

from typing import Callable, TypeVar

from textual.dom import DOMNode
from textual.worker import get_current_worker

from .api import ApiError
from .messages import ApiFailed, ApiSucceeded

T = TypeVar("T")


def call_api(node: DOMNode, action: str, call: Callable[[], T]) -> T | None:
    """Run `call` inside the current thread worker.

    Returns its result, or None when it raised an ApiError (reported to the app with `action`,
    a pt-BR phrase like "carregar as faturas") or when the worker was cancelled while it ran.
    """
    worker = get_current_worker()
    app = node.app
    try:
        result = call()
    except ApiError as error:
        if not worker.is_cancelled:
            app.post_message(ApiFailed(error, action))
        return None
    if worker.is_cancelled:
        return None
    # Read from a worker thread: a stale value only costs one redundant message.
    if getattr(app, "offline_reason", None) is not None:
        app.post_message(ApiSucceeded())
    return result
