"""Tesla Analyzer's `clientRest` export: each recorded period POSTed as a form to the central's
`<target>/history/save/<node>/<equip>/` (servidor answers it: servidor/api/central.py).

201 is done, 409 is done too (the central already has that period: an answer lost on the way
back), 400 is a period the central will never take (reported, counted, dropped); anything else,
or no answer, is tried again later by the queue (medidor/exports.py)."""
from __future__ import annotations

import json
import logging
from datetime import datetime
from http import HTTPStatus
from typing import Mapping
from urllib.parse import quote, urlencode

from shared.contract import decode_error
from shared.http.errors import ResponseError
from shared.http_client import HttpClient

log = logging.getLogger("medidor.exportacao")

# A central on a slow link answers a form in well under this; more is an outage.
TIMEOUT_S = 15.0
DATE_TIME = "%d/%m/%Y %H:%M:%S"

Values = Mapping[str, float | tuple[float, ...]]


class TryLater(Exception):
    """The central did not take the period now; the message is pt-BR."""


def form(moment: datetime, values: Values, model: str) -> bytes:
    """The form of one period: DATA_HORA, LECTURA (every code as a list) and MODEL."""
    lectura = {code: list(v) if isinstance(v, tuple) else [v] for code, v in values.items()}
    return urlencode({"DATA_HORA": f"{moment:{DATE_TIME}}", "LECTURA": json.dumps(lectura, separators=(",", ":")),
                      "MODEL": model}).encode("ascii")


class ClientRest:
    def __init__(self, target: str, node: str, equip: str, model: str, key: str | None) -> None:
        self.base = target.rstrip("/")
        self.path = f"/history/save/{quote(node, safe='')}/{quote(equip, safe='')}/"
        self.model = model
        self.key = key
        self.saved = 0
        self.rejected = 0
        self._client = HttpClient(self.base, timeout=TIMEOUT_S)  # ValueError for a URL it cannot use

    def send(self, moment: datetime, values: Values) -> None:
        """Deliver one period (done, duplicate or rejected); TryLater otherwise."""
        headers = [("content-type", "application/x-www-form-urlencoded")]
        if self.key:
            headers.append(("authorization", f"Bearer {self.key}"))
        try:
            response = self._client.request("POST", self.path, body=form(moment, values, self.model),
                                            headers=tuple(headers))
        except (OSError, ResponseError) as exc:
            raise TryLater(f"central fora do ar ({self.base}): {exc or exc.__class__.__name__}") from None
        if response.status in (HTTPStatus.CREATED, HTTPStatus.CONFLICT):
            self.saved += 1
            return
        _, message = decode_error(response.body)
        if response.status == HTTPStatus.BAD_REQUEST:
            self.rejected += 1
            log.error("clientRest %s: período %s recusado pela central (400: %s); descartado",
                      self.base, f"{moment:{DATE_TIME}}", message or response.body[:200])
            return
        raise TryLater(f"central respondeu {response.status}: {message or response.body[:200]!r}")

    def close(self) -> None:
        self._client.close()
