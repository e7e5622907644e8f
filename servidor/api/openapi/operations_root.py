"""What the document says about the routes outside /api/v1: /metrics, the browser's page at `/`,
and system 004's routes (`GET /`, `/{id}`) when they are on."""
from __future__ import annotations

from typing import Any

from servidor.api.openapi.blocks import JSON, PROMETHEUS, json_content, ok, operation, ref
from servidor.api.openapi.operations_blip import blip_operations
from servidor.api.openapi.operations_events import event_operations
from servidor.domain.legacy import MAX_METERS, MAX_PAYLOAD_BYTES
from shared.models import METER_ID

_HTML = {"text/html": {"schema": {"type": "string"}}}
_PAGE = ("Um navegador (Accept com `text/html`, sem `id`) recebe o painel: uma página HTML autocontida com "
         "os medidores e a potência ao vivo. Aberto, sem chave; o painel pede a chave e a usa na API.")
_FROZEN = " Rota do 004, mantida sem mudança (formato, fechamento da conexão) para os medidores antigos."


def root_operations(legacy: bool) -> dict[str, dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = {"/metrics": {"get": operation(
        "Sistema", "Métricas para o Prometheus",
        "Requisições por rota e status, latência, leituras recebidas, armazenamento, medidores vistos e "
        "conexões abertas, no formato de texto do Prometheus (0.0.4). Aberto, sem chave.",
        {"200": {"description": "As métricas.", "content": {PROMETHEUS: {"schema": {"type": "string"}}}}},
        open_route=True)}}
    if not legacy:
        paths["/"] = {"get": operation(
            "Sistema", "Painel do navegador", _PAGE + " Sem pedir HTML, 404.",
            {"200": {"description": "O painel.", "content": _HTML}}, errors=("404",), open_route=True)}
        return paths
    return {**paths, **_legacy_operations(), **blip_operations(), **event_operations()}


def _legacy_operations() -> dict[str, dict[str, Any]]:
    legacy_id = {"name": "id", "in": "path", "required": True, "description": "Id do medidor antigo (UUID no 004).",
                 "schema": {"type": "string", "pattern": METER_ID.pattern},
                 "example": "5f0c8a52-3b1e-4d6f-9a57-2c1e8b7d4a10"}
    store_body = {"required": True, "description": (
        "O JSON do medidor do 004, qualquer objeto de até {MAX_PAYLOAD_BYTES} bytes. Sem Content-Length, o corpo "
        "vai até o medidor fechar a conexão.").format(MAX_PAYLOAD_BYTES=MAX_PAYLOAD_BYTES),
        "content": {JSON: {"schema": ref("DadosLegados"), "example": {
            "consumo_atual_kWh": 12.5, "consumo_total_kWh": 1834.2, "Valor_da_Fatura": 917.1, "alerta": ""}}}}
    stored = {
        "200": ok("Gravado; a conexão é fechada.", "LegadoRecebido"),
        # A meter of /api/v1 cannot be changed through the old routes.
        "409": {"description": "O id é de um medidor da API /api/v1 (`medidor_nativo`).",
                "content": json_content(ref("Erro"))},
        "507": {"description": f"Já há {MAX_METERS} medidores antigos guardados, o máximo (`limite_atingido`); "
                               "apague um com DELETE.", "content": json_content(ref("Erro"))},
    }
    store_errors = ("400", "404", "413")
    by_id = {"type": "object", "additionalProperties": ref("DadosLegados")}
    one = {"200": {"description": "`{\"<id>\": <o que ele enviou>}`; a conexão é fechada.",
                   "content": json_content(by_id)}}
    # The browser page took over GET / for HTML (servidor/api/page.py); everything else there is still
    # 004's menu client, so the operation stays current and only its `id` parameter is deprecated.
    root = operation(
        "Sistema", "Painel do navegador; medidores antigos do 004",
        _PAGE + " Qualquer outro pedido é o do cliente do 004: sem `id`, todos os medidores antigos como "
        f"`{{\"<id>\": {{...}}}}` (no máximo {MAX_METERS}); com `id`, só esse (404 se não existe); a conexão é "
        "fechada após a resposta.",
        {"200": {"description": "O painel (HTML) ou os medidores antigos (JSON).",
                 "content": {**_HTML, **json_content(by_id)}}},
        errors=("404",), open_route=True, parameters=[
            {"name": "id", "in": "query", "required": False, "deprecated": True,
             "description": "Id do medidor antigo (cliente do 004).", "schema": {"type": "string"}}])
    root["tags"].append("Legado 004")
    return {
        "/": {"get": root},
        "/{id}": {
            "get": operation("Legado 004", "Um medidor antigo", "O que ele enviou por último." + _FROZEN,
                             one, errors=("404",), parameters=[legacy_id], open_route=True, deprecated=True),
            "post": operation("Legado 004", "O medidor antigo envia seus dados",
                              "Guarda o JSON enviado, substituindo o anterior." + _FROZEN,
                              stored, errors=store_errors, parameters=[legacy_id],
                              body=store_body, open_route=True, deprecated=True),
            "put": operation("Legado 004", "O medidor antigo envia seus dados (PUT)",
                             "O mesmo que POST." + _FROZEN, stored, errors=store_errors,
                             parameters=[legacy_id], body=store_body, open_route=True, deprecated=True),
            "delete": operation("Legado 004", "Apaga um medidor antigo",
                                "Apaga o que o medidor antigo enviou." + _FROZEN,
                                {"204": {"description": "Apagado; a conexão é fechada."}}, errors=("404",),
                                parameters=[legacy_id], open_route=True, deprecated=True),
        },
    }
