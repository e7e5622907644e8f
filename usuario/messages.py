"""Messages that cross the whole app: a call's outcome reported to the app, and the app telling
the screen on top that the server is back. Widget-specific messages live in their widgets."""
from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from .api import ApiError


@dataclass
class ApiFailed(Message):
    """A call made in a worker failed; the app decides how to show it (banner, notice, screen)."""

    error: ApiError
    action: str


@dataclass
class ApiSucceeded(Message):
    """A call answered while the app believed the server was away: it is back."""


@dataclass
class Reconnected(Message):
    """Sent to the screen on top when the server answers again: reload what is shown."""
