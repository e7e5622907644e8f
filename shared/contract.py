"""The JSON API's contract as every program of the suite sees it: where it lives, its limits, the
meter fields a PUT replaces, and how an error answer is read.

The server enforces these values; the agent and the terminal app import them from here instead
of keeping copies that drift.
"""
from __future__ import annotations

import json
from typing import Any

# Every route of the JSON API lives under this prefix.
API_PREFIX = "/api/v1"

# One request carries at most this many readings: an agent catching up after an outage sends a
# day of 10-s readings in 9 requests, and a batch stays under a few hundred KiB of JSON.
MAX_BATCH = 1000

# Meter fields a PUT replaces as a whole; a field left out of a PUT goes back to its default,
# so a client that updates a meter sends every one of these it knows.
EDITABLE = ("nome", "categoria", "fuso", "limite_alerta_kwh", "multiplicador", "tarifa", "estado", "silencio_s",
            "dia_leitura", "ligacao", "webhook_url", "site", "potencia_maxima_w", "id_blip", "publico",
            "pulsos_por_kwh", "controle", "local")


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The body of every error answer of the API: {"erro": {"codigo": ..., "mensagem": ...}},
    with "campo" (the path of the refused field, "versoes[1].vigencia") when it is known."""
    body: dict[str, Any] = {"codigo": code, "mensagem": message}
    if field is not None:
        body["campo"] = field
    return {"erro": body}


def decode_error(body: bytes) -> tuple[str | None, str | None]:
    """(codigo, mensagem) from an error answer's body; (None, None) when it is not the envelope."""
    try:
        error = json.loads(body)["erro"]
        return str(error["codigo"]), str(error["mensagem"])
    except (ValueError, KeyError, TypeError):
        return None, None
