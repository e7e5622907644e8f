"""Request bodies as JSON, with the bounds that keep every value safe to compute with.

- Integers of more than MAX_INTEGER_DIGITS digits are refused while decoding: every number
  the API takes fits in 64 bits, and a 400-digit integer turned into an OverflowError (a 500)
  wherever the code did arithmetic on it.
- NaN and Infinity are not JSON (RFC 8259 §6) and are refused.
- Nesting deeper than the decoder's recursion allows is refused as a 400, not a crash.
- A lone UTF-16 surrogate (`"\\ud800"`) decodes into a string that cannot be encoded again, so
  echoing or storing it failed later; it is refused here.
"""
from __future__ import annotations

import json
import re
from typing import Any

from servidor.api.errors import MalformedBody

# 2^64 has 20 digits: seqs, instants and counters all fit; anything longer is not a quantity here.
MAX_INTEGER_DIGITS = 20
# A \u escape in the surrogate range, the only way JSON text can carry a lone surrogate.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
# Only a body with a run of more digits than that can hold a too-long integer; the others decode
# with the C decoder's own integer parsing, which no Python hook slows down.
_LONG_DIGITS = re.compile(rb"[0-9]{%d}" % (MAX_INTEGER_DIGITS + 1))


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise ValueError(f"número inteiro com mais de {MAX_INTEGER_DIGITS} dígitos")
    return int(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} não é um número JSON")


_checking_decoder = json.JSONDecoder(parse_int=_bounded_int, parse_constant=_no_constant)
_decoder = json.JSONDecoder(parse_constant=_no_constant)


def decode_json(body: bytes) -> Any:
    """The body's JSON value; MalformedBody (400) with the reason otherwise."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedBody(f"corpo não é UTF-8: {exc.reason}") from None
    decoder = _checking_decoder if _LONG_DIGITS.search(body) else _decoder
    try:
        value = decoder.decode(text)
    except json.JSONDecodeError as exc:
        raise MalformedBody(f"JSON inválido: {exc.msg} (linha {exc.lineno}, coluna {exc.colno})") from None
    except ValueError as exc:  # from the hooks above, or Python's own digit limit
        raise MalformedBody(f"JSON inválido: {exc}") from None
    except RecursionError:
        raise MalformedBody("JSON aninhado demais") from None
    if _SURROGATE_ESCAPE.search(body) and _has_lone_surrogate(value):
        raise MalformedBody("JSON inválido: texto com um caractere Unicode substituto isolado (\\ud800 a \\udfff)")
    return value


def _has_lone_surrogate(value: Any) -> bool:
    # Paired escapes decode into one character; only a lone one survives as a surrogate, and
    # then encoding to UTF-8 fails.
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
