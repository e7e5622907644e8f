"""Numbers from clients, checked against their bounds before any arithmetic touches them.

A JSON integer can have hundreds of digits; `float()` or `math.isfinite()` on it raises
OverflowError, which no handler expects. Comparing first is exact in Python for any int and
float (and NaN fails every comparison), so the bound check is also the finiteness check.
"""
from __future__ import annotations

from typing import Any


def is_number(value: Any) -> bool:
    """A JSON number: int or float, not bool (True is an int in Python)."""
    return type(value) in (int, float)


def within(value: Any, low: float, high: float) -> bool:
    """`value` is a number with low <= value <= high (so finite when the bounds are)."""
    return is_number(value) and low <= value <= high


def positive_within(value: Any, high: float) -> bool:
    """0 < value <= high."""
    return is_number(value) and 0 < value <= high
