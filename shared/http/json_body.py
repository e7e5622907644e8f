"""Request bodies decoded as JSON with bounds, so hostile JSON is a clear ValueError, never a crash.

`json.loads` alone accepts what later breaks the server: nesting deep enough to exhaust the
interpreter's recursion limit (RecursionError, in the parser or in whatever walks the value
later), lone UTF-16 surrogates such as "\\ud800" (a str that cannot be encoded back to UTF-8
when it is echoed or stored), integers with hundreds of digits (arithmetic on them is slow and
no meter produces them) and the non-JSON constants NaN and Infinity. (Floats too large for a
double, such as 1e400, decode to infinity; the domain bounds values.)

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
# 2**64 has 20 digits: seqs, instants in ms and energy counters all fit, and no quantity of the
# API is wider (the same bound as servidor/api/body.py); beyond it arithmetic gets slow or fails.
MAX_JSON_INT_DIGITS = 20

# Bodies up to this size are screened by counting their brackets (a few hundred ns); larger ones
# (batches, with an object per reading) go straight to the skeleton check, which is cheaper
# than counting and then checking.
_SMALL_BODY = 2048
# The depth check looks at a skeleton of the body: its brackets and quotes only.
_NOT_SKELETON = bytes(sorted(set(range(256)) - set(b'[]{}"')))
# A JSON string with escapes, for the rare skeleton whose strings hold quotes or brackets.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
# Long integers are screened on a copy with every digit turned into "0": a run of more zeros
# than allowed sends the body to the exact, slower decode (digits inside strings only cost that
# slower decode, never a refusal).
_ZEROED = bytes.maketrans(b"123456789", b"000000000")
_TOO_MANY_DIGITS = b"0" * (MAX_JSON_INT_DIGITS + 1)
# A \uD800-\uDFFF escape: a surrogate, which is valid only as half of a correct pair.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _reason_of(sample: str) -> str:
    """The json module's own reason for refusing `sample`."""
    try:
        json.loads(sample)
    except json.JSONDecodeError as exc:
        return exc.msg
    raise AssertionError(f"{sample!r} is valid JSON")


# The json module's reasons, asked of the module itself (its words, in whichever Python runs this),
# in the language of the API's answers; a reason not listed keeps its English.
_REASONS = {_reason_of(sample): reason for sample, reason in (
    ('{"a":', "esperava um valor"),
    ("{a:1}", "esperava o nome de um campo entre aspas duplas"),
    ('{"a" 1}', "esperava ':'"),
    ('{"a":1 "b":2}', "esperava ','"),
    ('"abc', "texto sem as aspas do fim"),
    ('"a\x01b"', "caractere de controle dentro de um texto"),
    ('"\\q"', "escape inválido"),
    ('"\\u12"', "escape \\u inválido"),
    ("{} x", "há algo depois do fim do JSON"),
)}


def decode_json(body: bytes) -> Any:
    """`body` as UTF-8 JSON within the bounds above; ValueError with a pt-BR reason otherwise."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"corpo não é UTF-8: {exc.reason}") from None
    if len(body) > _SMALL_BODY or body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH:
        _check_depth(body)
    careful = _TOO_MANY_DIGITS in body.translate(_ZEROED)
    if not careful and text[:1] == "{" and text[-1:] == "}":
        # An object with no whitespace around it (what agents send): the C scanner alone, without
        # JSONDecoder.decode's Python wrapping. Anything it does not take whole goes the full
        # way below, which words the error.
        try:
            value, end = _SCAN(text, 0)
        except (StopIteration, ValueError, RecursionError):
            end = -1
        if end == len(text):
            return _checked(body, value)
    try:
        value = (_CAREFUL if careful else _DECODER).decode(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"JSON inválido: {_REASONS.get(exc.msg, exc.msg)} (linha {exc.lineno}, "
                         f"coluna {exc.colno})") from None
    except RecursionError:
        # Unreachable after _check_depth; kept so that no path ever turns into a 500.
        raise ValueError(f"JSON aninhado demais (máximo {MAX_JSON_DEPTH} níveis)") from None
    return _checked(body, value)


def _checked(body: bytes, value: Any) -> Any:
    if b"\\u" in body and _SURROGATE_ESCAPE.search(body) is not None:
        _check_encodable(value)
    return value


def _check_depth(body: bytes) -> None:
    """Raise unless every container closes within MAX_JSON_DEPTH levels (strings ignored)."""
    skeleton = None
    if b"\\" not in body:
        # Without escapes every string is now a pair of quotes, unless it holds brackets.
        skeleton = body.translate(None, _NOT_SKELETON).replace(b'""', b"")
    if skeleton is None or b'"' in skeleton:
        # Escaped quotes, or brackets inside strings: strip the strings properly (slower).
        skeleton = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    for _ in range(MAX_JSON_DEPTH):
        # One level of innermost containers per pass. A mismatched pair ("[}") stays and stops
        # the passes: the body is not JSON then anyway.
        shorter = skeleton.replace(b"{}", b"").replace(b"[]", b"")
        if not shorter:
            return
        if len(shorter) == len(skeleton):
            # Closers before openers or openers never closed: not JSON, whatever its depth.
            raise ValueError("JSON inválido: colchetes ou chaves sem par")
        skeleton = shorter
    raise ValueError(f"JSON aninhado demais (máximo {MAX_JSON_DEPTH} níveis)")


def _bounded_int(literal: str) -> int:
    digits = len(literal) - literal.startswith("-")
    if digits > MAX_JSON_INT_DIGITS:
        raise ValueError(f"número inteiro com {digits} dígitos (máximo {MAX_JSON_INT_DIGITS})")
    return int(literal)


def _refuse_constant(name: str) -> Any:
    # RFC 8259 §6: "Numeric values that cannot be represented ... (such as Infinity and NaN) are
    # not permitted"; Python's decoder accepts them unless told otherwise.
    raise ValueError(f"{name} não é um número JSON válido")


# Built once: json.loads with any option builds a decoder per call.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_CAREFUL = json.JSONDecoder(parse_int=_bounded_int, parse_constant=_refuse_constant)
_SCAN = _DECODER.scan_once


def _check_encodable(value: Any) -> None:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("texto com caractere UTF-16 inválido (surrogate isolado, como \\ud800)") from None
