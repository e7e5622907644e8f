"""The 004 wire format, kept working unchanged (DOMAIN.md §2).

004's meter sends `POST /<id>` with no Content-Length and closes; its menu client sends
`GET /?id=<id>` and reads until the server closes. These meters stay open, as in 004, but live
in their own table: a legacy route can never read or write a native meter.
"""
from __future__ import annotations

import threading
from http import HTTPStatus
from typing import Any, Callable

from shared.http.json_body import decode_json
from shared.http.messages import Request, Response
from servidor.api.envelope import error
from servidor.domain.meters import METER_ID, now_iso
from servidor.store.documents import DocumentStore

LEGACY = "legado"
ROOT_METHODS = ("GET", "HEAD", "OPTIONS")
METER_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS")


def body_until_close(method: str, target: str) -> bool:
    """The parser's rule for requests without framing: only 004's POST/PUT read until close."""
    return method in ("POST", "PUT") and not target.startswith("/api/")


def _close(status: int, payload: Any) -> Response:
    return Response.of_json(status, payload, close=True)


def _error(status: int, code: str, message: str) -> Response:
    return error(status, code, message, close=True)


class Legacy:
    def __init__(self, docs: DocumentStore, is_native: Callable[[str], bool]) -> None:
        self._docs = docs
        self._is_native = is_native
        self._lock = threading.Lock()
        self._payloads: dict[str, dict[str, Any]] = {d["id"]: d for d in docs.all(LEGACY)}

    def handle(self, request: Request) -> Response:
        path = request.path  # already percent-decoded
        meter_id = path[1:]
        if path == "/":
            allowed = ROOT_METHODS
        elif "/" not in meter_id and METER_ID.fullmatch(meter_id):
            allowed = METER_METHODS
        else:
            return _error(HTTPStatus.NOT_FOUND, "nao_encontrado", f"nada em {path}; a API fica em /api/v1")
        if request.method not in allowed:
            return error(HTTPStatus.METHOD_NOT_ALLOWED, "metodo_nao_permitido",
                         f"Método {request.method} não é aceito em {path}; use {', '.join(allowed)}",
                         (("allow", ", ".join(allowed)),), close=True)
        if request.method == "OPTIONS":
            # blipserver and 004's browser users expect a plain 200 with what is allowed.
            return Response(HTTPStatus.OK, (("allow", ", ".join(allowed)),))
        if path == "/":
            wanted = request.query.get("id")
            if wanted is None:
                return _close(HTTPStatus.OK, {k: v["dados"] for k, v in sorted(self._payloads.items())})
            return self._get(wanted)
        if request.method in ("POST", "PUT"):
            return self._store(meter_id, request.body)
        if request.method == "DELETE":
            return self._delete(meter_id)
        return self._get(meter_id)

    def _get(self, meter_id: str) -> Response:
        record = self._payloads.get(meter_id)
        if record is None:
            return _error(HTTPStatus.NOT_FOUND, "nao_encontrado", f"medidor {meter_id} não encontrado")
        return _close(HTTPStatus.OK, {meter_id: record["dados"]})

    def _store(self, meter_id: str, body: bytes) -> Response:
        if self._is_native(meter_id):
            return _error(HTTPStatus.CONFLICT, "medidor_nativo",
                          f"{meter_id} é um medidor da API /api/v1: a rota antiga não pode alterá-lo")
        try:
            payload = decode_json(body)
        except ValueError as exc:
            return _error(HTTPStatus.BAD_REQUEST, "json_invalido", f"corpo não é JSON válido: {exc}")
        if not isinstance(payload, dict):
            return _error(HTTPStatus.BAD_REQUEST, "json_invalido", "o corpo deve ser um objeto JSON")
        record = {"id": meter_id, "dados": payload, "recebido_em": now_iso()}
        with self._lock:
            self._docs.upsert(LEGACY, "id", record)
            self._payloads[meter_id] = record
        return _close(HTTPStatus.OK, {"id": meter_id, "recebido_em": record["recebido_em"]})

    def _delete(self, meter_id: str) -> Response:
        with self._lock:
            if self._payloads.pop(meter_id, None) is None:
                return _error(HTTPStatus.NOT_FOUND, "nao_encontrado", f"medidor {meter_id} não encontrado")
            self._docs.delete(LEGACY, "id", meter_id)
        return Response(HTTPStatus.NO_CONTENT, close=True)

    def totals(self) -> list[dict[str, Any]]:
        """Legacy meters as the native API lists them (both generations of 004's keys)."""
        out = []
        for meter_id, record in sorted(self._payloads.items()):
            data = record["dados"]
            invoice = data.get("Valor_da_Fatura", data.get("fatura_a_pagar"))
            out.append({
                "id": meter_id, "legado": True,
                "consumo_atual_kwh": data.get("consumo_atual_kWh"),
                "consumo_total_kwh": data.get("consumo_total_kWh"),
                "valor_fatura": invoice,
                "alerta": data.get("alerta") or None,
                "atualizado_em": record["recebido_em"],
            })
        return out
