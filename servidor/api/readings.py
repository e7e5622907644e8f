"""Readings: ingest (one or a batch) and the raw history, page by page."""
from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

from servidor.api.call import Call, NotInline, ok
from servidor.api.envelope import error_response
from servidor.api.errors import JSON_CONTENT, note_store_failure, response_for
from servidor.billing.calendar import parse_instant
from servidor.domain.auth import require_read, require_write
from servidor.domain.errors import InvalidInput
from servidor.domain.history import DEFAULT_PAGE, MAX_PAGE
from servidor.domain.ingest import Outcome
from servidor.net import Deferred
from shared.contract import API_PREFIX
from shared.http.messages import Response
from shared.models import format_timestamp

log = logging.getLogger("servidor.api")

MAX_SEQ = 2**63 - 1
# What json_response makes of an outcome without commands or rejections (its ints and null are
# written alike); tests/test_api_readings.py compares the two.
_PLAIN_ANSWER = b'{"aceitas":%d,"duplicadas":%d,"ultimo_seq":%s,"comandos":[]}'
_OK = int(HTTPStatus.OK)


def post_readings(call: Call, id: str) -> Response | Deferred:
    require_write(call.principal, id)
    services = call.services
    meter = services.meters.get(id)
    if call.inline:
        # Answered once the reading is on disk, without a thread waiting for the fsync.
        deferred = Deferred()
        if not services.ingest.defer(meter, call.json(), lambda outcome: deferred.resolve(_later(call, outcome))):
            raise NotInline
        return deferred
    return _answer(services.ingest.submit(meter, call.json()))


def _later(call: Call, outcome: Outcome | Exception) -> Response:
    """The answer once the store has told: as the dispatcher and the network layer would have
    answered the same outcome or error, had the handler waited for it."""
    if not isinstance(outcome, Exception):
        return _answer(outcome)
    note_store_failure(call.services, outcome)
    if response_for(outcome) is None:  # a bug: logged here, as the network layer logs one
        log.error("falha ao gravar leituras", exc_info=outcome)
    return error_response(outcome)


def _answer(outcome: Outcome) -> Response:
    if not outcome.comandos and not outcome.rejeitadas:  # nearly every answer: its JSON by hand
        last = outcome.ultimo_seq
        return Response.trusted(_OK, JSON_CONTENT, _PLAIN_ANSWER % (
            outcome.aceitas, outcome.duplicadas, b"null" if last is None else b"%d" % last))
    body: dict[str, Any] = {
        "aceitas": outcome.aceitas,
        "duplicadas": outcome.duplicadas,
        "ultimo_seq": outcome.ultimo_seq,
        "comandos": [c.to_json() for c in outcome.comandos],
    }
    if outcome.rejeitadas:
        body["rejeitadas"] = [r.to_json() for r in outcome.rejeitadas]
    return ok(body)


def get_readings(call: Call, id: str) -> Response:
    require_read(call.principal, id)
    meter = call.services.meters.get(id)
    tz = meter.tz
    query = call.query
    try:
        start = parse_instant(query["de"], tz) if query.get("de") else None
        end = parse_instant(query["ate"], tz, end=True) if query.get("ate") else None
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    limit = call.query_int("limite", DEFAULT_PAGE, 1, MAX_PAGE)
    from_seq = call.query_int("de_seq", 0, 0, MAX_SEQ) if query.get("de_seq") else None
    page = call.services.history.page(meter, start, end, limit, from_seq)
    out = []
    for reading, reset in page.rows:
        item = reading.to_json(tz)
        if reset:
            item["reinicio"] = True
        out.append(item)
    body: dict[str, Any] = {"medidor": id, "leituras": out, "total": len(out)}
    if page.next_ts is not None:
        following = {"de": page.next_ts, "de_seq": page.next_seq, "limite": limit}
        if end is not None:
            following["ate"] = end
        body["proxima_pagina"] = f"{API_PREFIX}/medidores/{id}/leituras?{urlencode(following)}"
        body["proximo_de"] = format_timestamp(page.next_ts, tz)
    return ok(body)
