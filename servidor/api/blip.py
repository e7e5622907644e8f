"""blipserver's routes (docs/protocolos.md §3), answered as blipserver answered them.

Bodies are JSON arrays of numbers with `Content-Type: text/javascript; charset=UTF-8` and
`Cache-Control: max-age=0, must-revalidate`; every answer carries `Access-Control-Allow-Origin:
*` (the server adds it) and OPTIONS answers 200 (the routes are registered as legacy routes).
A meter is addressed by its numeric `id_blip`.

Read access: a meter marked `publico` is open, as every blipserver was; any other needs a key
that may read it, as `Authorization: Bearer` or `?chave=` (a graph page in an `<img>`-less
browser tab or a shell one-liner can only put it in the URL). The times of the blinks tell
when people are home and awake, so they are not published unless the owner says so.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from http import HTTPStatus
from importlib import resources
from typing import Any

from servidor.api.call import Call
from servidor.api.errors import ApiError
from servidor.domain import live
from servidor.domain.auth import require_read
from servidor.domain.blinks import MAX_BUCKETS, Blinks
from servidor.domain.meters import Meter
from servidor.net import Deferred
from shared.http.messages import Response

BLIP_HEADERS = (("content-type", "text/javascript; charset=UTF-8"),
                ("cache-control", "max-age=0, must-revalidate"))
# blipserver refused numeric arguments longer than this (they would not fit its integers).
MAX_DIGITS = 15
_DIGITS = re.compile(r"[0-9]{1,%d}" % MAX_DIGITS)
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode
_PAGE_HEADERS = (
    ("content-type", "text/html; charset=utf-8"),
    ("content-security-policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                                "frame-ancestors 'none'"),
    ("cache-control", "no-cache"),
)


class BadArgument(ApiError):
    status = HTTPStatus.BAD_REQUEST
    code = "argumento_invalido"


def answer(payload: Any) -> Response:
    return Response(HTTPStatus.OK, BLIP_HEADERS, _ENCODE(payload).encode("ascii"))


def number(text: str, name: str) -> int:
    """A URL argument: decimal digits only, at most MAX_DIGITS of them; 400 otherwise."""
    if not _DIGITS.fullmatch(text):
        raise BadArgument(f"{name} deve ser um número inteiro de 1 a {MAX_DIGITS} dígitos")
    return int(text)


def _blinks(call: Call) -> Blinks:
    blinks = call.services.blinks
    if blinks is None:  # the routes are only registered with the service: a wiring bug
        raise RuntimeError("rotas do blipserver sem o serviço de pulsos")
    return blinks


def _meter(call: Call, id: str) -> tuple[Blinks, Meter]:
    blinks = _blinks(call)
    meter = blinks.meter(number(id, "id"))
    if not meter.publico:
        principal = call.principal
        if principal is None and call.query.get("chave"):
            principal = call.services.keys.identify(f"Bearer {call.query['chave']}")
        require_read(principal, meter.id)
    return blinks, meter


def _buckets(interval: str, count: str) -> tuple[int, int]:
    size, many = number(interval, "intervalo"), number(count, "quantidade")
    if size < 1:
        raise BadArgument("intervalo deve ser de pelo menos 1 ms")
    if many > MAX_BUCKETS:
        raise BadArgument(f"quantidade deve ser no máximo {MAX_BUCKETS}")
    return size, many


def blip_wait(call: Call, id: str) -> Response | Deferred:
    """GET /blip/{id}: the next blink, when it comes; 204 after the longest wait, so the client asks again."""
    blinks, meter = _meter(call, id)
    last = blinks.last(meter)
    after = -1 if last is None else last[0]
    deferred = Deferred()

    def deliver(points: Any) -> None:
        deferred.resolve(answer(list(points[0])) if points else Response(HTTPStatus.NO_CONTENT, BLIP_HEADERS))

    blinks.hub.wait(meter.stream, after, live.MAX_WAIT_S, deliver)
    return deferred


def blip_last(call: Call, id: str) -> Response:
    """GET /last/{id}: [stamp, ms] of the newest blink ([] before the first)."""
    blinks, meter = _meter(call, id)
    last = blinks.last(meter)
    return answer([] if last is None else list(last))


def blip_last_ms(call: Call, id: str, ms: str) -> Response:
    """GET /last/{id}/{ms}: the blinks of the last `ms` milliseconds, oldest first."""
    blinks, meter = _meter(call, id)
    span = number(ms, "ms")
    return answer([list(p) for p in blinks.since(meter, blinks.now_ms() - span)])


def blip_since(call: Call, id: str, instante: str) -> Response:
    """GET /since/{id}/{instante}: blinks with stamp ≥ instante, oldest first; the next page
    starts at the last stamp + 1 (stamps only go up)."""
    blinks, meter = _meter(call, id)
    return answer([list(p) for p in blinks.since(meter, number(instante, "instante"))])


def blip_aggregate(call: Call, id: str, inicio: str, intervalo: str, quantidade: str) -> Response:
    blinks, meter = _meter(call, id)
    since = number(inicio, "inicio")
    return answer(blinks.aggregate(meter, since, *_buckets(intervalo, quantidade)))


def blip_aggregate_hourly(call: Call, id: str, inicio: str, intervalo: str, quantidade: str) -> Response:
    blinks, meter = _meter(call, id)
    since = number(inicio, "inicio")
    return answer(blinks.aggregate_hourly(meter, since, *_buckets(intervalo, quantidade)))


def blip_hourly(call: Call, id: str, inicio: str, fim: str) -> Response:
    blinks, meter = _meter(call, id)
    return answer(blinks.hourly(meter, number(inicio, "inicio"), number(fim, "fim")))


def blip_usage(call: Call, id: str, ms: str) -> Response:
    blinks, meter = _meter(call, id)
    return answer([blinks.usage(meter, number(ms, "ms"))])


@lru_cache(maxsize=1)
def _page() -> Response:
    return Response(HTTPStatus.OK, _PAGE_HEADERS, resources.files("servidor.web").joinpath("blip.html").read_bytes())


def blip_page(call: Call) -> Response:
    """GET /blip.html: blipserver's live graph (`?id=1`, `&chave=` for a meter that is not public)."""
    return _page()
