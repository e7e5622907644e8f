"""Request bodies decoded as JSON with bounds, so hostile JSON is a clear ValueError, never a crash.

`json.loads` alone accepts what later breaks the server: nesting deep enough to exhaust the
interpreter's recursion limit (RecursionError, in the parser or in whatever walks the value
later), lone UTF-16 surrogates such as "\\ud800" (a str that cannot be encoded back to UTF-8
when it is echoed or stored), integers with hundreds of digits (arithmetic on them is slow and
no meter produces them) and the non-JSON constants NaN and Infinity.

Each check runs at C speed on the raw bytes first (a count, a regex search); the exact and
slower check runs only when that screen finds a candidate, so an ordinary body pays ~1 µs.
"""
from __future__ import annotations

import json
import re
from typing import Any

# Our deepest legitimate document is a batch: object → list of readings → reading → its
# measurements, four levels. 32 leaves room for any client's wrapping and is still far below
# the ~1,000 levels at which the interpreter's recursion limit breaks the decoder.
MAX_JSON_DEPTH = 32
# A meter's energy counter in milli-Wh over a century stays under 16 digits and 2**64 has 20;
# 30 digits leaves room for any honest number and keeps big-integer arithmetic cheap.
MAX_JSON_INT_DIGITS = 30

_OPENERS = (b"[", b"{")
# A JSON string: quotes around anything but quote/backslash, or any escaped character.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
# An opener directly followed by a closer: one innermost container, removed per pass.
_INNERMOST = re.compile(rb"[\[{][\]}]")
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
# Screens: a run of more digits than allowed, or an exponent of three digits or more (1e400 is
# infinity for a float).
_LONG_NUMBER = re.compile(rb"[0-9]{%d}|[eE][-+]?[0-9]{3}" % (MAX_JSON_INT_DIGITS + 1))
# A \uD800-\uDFFF escape: a surrogate, which is valid only as half of a correct pair.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def decode_json(body: bytes) -> Any:
    """`body` as UTF-8 JSON within the bounds above; ValueError with a pt-BR reason otherwise."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"corpo não é UTF-8: {exc.reason}") from None
    if body.count(_OPENERS[0]) + body.count(_OPENERS[1]) > MAX_JSON_DEPTH:
        _check_depth(body)
    careful = _LONG_NUMBER.search(body) is not None
    try:
        if careful:
            value = json.loads(text, parse_int=_bounded_int, parse_float=_finite_float,
                               parse_constant=_refuse_constant)
        else:
            value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"JSON inválido: {exc.msg} (linha {exc.lineno}, coluna {exc.colno})") from None
    except RecursionError:
        # Unreachable after _check_depth; kept so that no path ever turns into a 500.
        raise ValueError(f"JSON aninhado demais (máximo {MAX_JSON_DEPTH} níveis)") from None
    if _SURROGATE_ESCAPE.search(body) is not None:
        _check_encodable(value)
    return value


def _check_depth(body: bytes) -> None:
    """Raise unless every container closes within MAX_JSON_DEPTH levels (strings ignored)."""
    skeleton = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    for _ in range(MAX_JSON_DEPTH):
        skeleton, removed = _INNERMOST.subn(b"", skeleton)
        if not skeleton:
            return
        if not removed:
            # Closers before openers or openers never closed: not JSON, whatever its depth.
            raise ValueError("JSON inválido: colchetes ou chaves sem par")
    raise ValueError(f"JSON aninhado demais (máximo {MAX_JSON_DEPTH} níveis)")


def _bounded_int(literal: str) -> int:
    digits = len(literal) - literal.startswith("-")
    if digits > MAX_JSON_INT_DIGITS:
        raise ValueError(f"número inteiro com {digits} dígitos (máximo {MAX_JSON_INT_DIGITS})")
    return int(literal)


def _finite_float(literal: str) -> float:
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"número fora do intervalo representável: {literal[:40]}")
    return value


def _refuse_constant(name: str) -> Any:
    # RFC 8259 §6: "Numeric values that cannot be represented ... (such as Infinity and NaN) are
    # not permitted"; Python's decoder accepts them unless told otherwise.
    raise ValueError(f"{name} não é um número JSON válido")


def _check_encodable(value: Any) -> None:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("texto com caractere UTF-16 inválido (surrogate isolado, como \\ud800)") from None
