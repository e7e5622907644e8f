"""Request bodies as JSON for the API: `shared.http.json_body` decodes within named bounds (depth,
integer digits, no NaN/Infinity, no lone surrogates); here its refusal becomes the API's 400."""
from __future__ import annotations

from typing import Any

from servidor.api.errors import MalformedBody
from shared.http.json_body import decode_json as _decode


def decode_json(body: bytes) -> Any:
    """The body's JSON value; MalformedBody (400) with the reason otherwise."""
    try:
        return _decode(body)
    except ValueError as exc:
        raise MalformedBody(str(exc)) from None
