"""GET …/ao-vivo: the long poll, as an HTTP adapter over the domain's waiter hub.

A request with nothing newer to answer parks as a `servidor.net.Deferred`; the hub's callback
resolves it with the readings (200) or, when the wait ends, with 204.
"""
from __future__ import annotations

from http import HTTPStatus
from typing import Sequence

from servidor.api.call import Call, ok
from servidor.domain import live
from servidor.domain.auth import require_read
from servidor.domain.meters import Meter
from servidor.net import Deferred
from shared.http.messages import Response
from shared.models import Reading

DEFAULT_WAIT_S = 25.0
MAX_SEQ = 2**63 - 1
_NOTHING_NEW = Response(HTTPStatus.NO_CONTENT)


def answer(meter: Meter, readings: Sequence[Reading] | None) -> Response:
    if not readings:
        return _NOTHING_NEW
    tz = meter.tz
    return ok({"medidor": meter.id, "leituras": [r.to_json(tz) for r in readings], "ultimo_seq": readings[-1].seq})


def get_live(call: Call, id: str) -> Response | Deferred:
    require_read(call.principal, id)
    services = call.services
    meter = services.meters.get(id)
    wait = call.query_float("espera", DEFAULT_WAIT_S, 0.0, live.MAX_WAIT_S)
    if call.query.get("apos") in (None, ""):
        after = services.history.last_seq(meter)
    else:
        after = call.query_int("apos", -1, -1, MAX_SEQ)
    ready = services.history.after(meter, after)
    if ready or wait == 0:
        return answer(meter, ready)
    deferred = Deferred()
    services.live.wait(meter.stream, after, wait, lambda readings: deferred.resolve(answer(meter, readings)))
    return deferred
