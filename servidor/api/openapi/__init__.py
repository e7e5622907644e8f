"""GET /api/v1/openapi.json: the OpenAPI 3.1 document of every route the server answers.

The paths are drawn from the router: for every route and method the router serves, the document
takes what `operations_*.py` says about that path and method, and the operationId is the name of
the handler that answers it. A route without a description, or a description without a route,
stops the document from being built (UndocumentedRoute), so the two cannot drift apart.

The descriptions are written by hand (the handlers validate by hand, so only a person can say what
they mean to accept and answer), but every bound in them (batch size, page size, long-poll wait,
id patterns, tariff limits, measurement codes) is read from the constant the code enforces.
tests/test_openapi.py checks the rest against the live server with schemathesis.

Texts the user reads (summaries, descriptions, tags) are in pt-BR.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

from servidor.api.openapi.blocks import OPENAPI_VERSION, error_components, obj
from servidor.api.openapi.operations_central import central_operations, central_schemas
from servidor.api.openapi.operations_blip import TAG as BLIP_TAG, TAG_TEXT as BLIP_TAG_TEXT
from servidor.api.openapi.operations_events import TAG as EVENTS_TAG, TAG_TEXT as EVENTS_TAG_TEXT
from servidor.api.openapi.operations_keys import key_operations, key_schemas
from servidor.api.openapi.operations_meters import meter_operations
from servidor.api.openapi.operations_reports import report_operations
from servidor.api.openapi.operations_root import root_operations
from servidor.api.openapi.operations_sites import site_operations, site_schemas
from servidor.api.openapi.operations_billing import billing_operations
from servidor.api.openapi.schemas_billing import consumption_schemas
from servidor.api.openapi.schemas_invoices import invoice_schemas
from servidor.api.openapi.schemas_tariffs import tariff_schemas
from servidor.api.openapi.schemas_meters import meter_schemas
from servidor.api.openapi.schemas_readings import alert_and_command_schemas, reading_schemas
from servidor.api.router import Route
from shared.http.limits import DEFAULT_LIMITS

TAGS = [
    ("Sistema", "Saúde do servidor, este documento e as métricas para o Prometheus."),
    ("Medidores", "Cadastro dos medidores e o estado de cada um: potência agora, kWh do dia e do mês, "
                  "fatura projetada e alertas."),
    ("Leituras", "Envio de leituras pelo agente do medidor, histórico bruto e acompanhamento ao vivo."),
    ("Consumo e faturas", "kWh por hora, dia ou mês no calendário local do medidor, as faturas por ciclo de "
                          "leitura (com suas versões) e qual tarifa compensa."),
    ("Sites", "Casas ou empresas com vários medidores (rede, painéis solares, submedidores): consumo pela fórmula "
              "do opengrid, importação, exportação, produção, autoconsumo e a série para análise."),
    ("Alertas", "Limite do mês, projeção, silêncio, contador reiniciado e falhas informadas pelo agente."),
    ("Comandos", "Comandos remotos entregues ao agente do medidor na resposta à sua próxima leitura."),
    ("Tarifas", "Tarifas com versões (vigência), preço único, por faixas ou por posto horário (Tarifa Branca), "
                "TUSD/TE, ICMS, PIS, COFINS, CIP e a tabela de bandeiras usadas nas faturas."),
    ("Tesla Analyzer", "A central do Tesla Analyzer: os nós de aquisição gravam e leem períodos dos seus "
                       "analisadores (`/ws/v2/history/...`, caminhos do original) com a chave do nó."),
    ("Legado 004", "As rotas do sistema 004, mantidas sem mudança para os medidores antigos. "
                   "Abertas (sem chave), como no 004; desligadas com `--sem-legado`."),
    (BLIP_TAG, BLIP_TAG_TEXT + " Desligadas com `--sem-legado`."),
    (EVENTS_TAG, EVENTS_TAG_TEXT + " Desligadas com `--sem-legado`."),
]

DESCRIPTION = f"""\
API JSON do monitor-energia: medidores, leituras, consumo, faturas, alertas, comandos e tarifas.

**Autenticação**: `Authorization: Bearer <chave>`. A chave de administração vê e altera tudo; a de
registro só cria medidores; cada medidor tem uma chave de escrita (a do seu agente) e uma de leitura
(a do dono). Sem chave, ou com chave desconhecida, a resposta é 401; com chave sem acesso, 403.

**Erros**: todo erro tem o corpo `{{"erro": {{"codigo": "...", "mensagem": "..."}}}}`; o `codigo` é
estável, a `mensagem` é para pessoas; um 422 pode trazer `campo`, o caminho do campo recusado. Além das respostas listadas em cada operação, qualquer rota
pode responder com erros do protocolo HTTP no mesmo formato, fechando a conexão: 400
(`requisicao_invalida`), 408 (`tempo_esgotado`), 413 (`corpo_grande_demais`, corpo acima de
{DEFAULT_LIMITS.max_body_bytes // (1024 * 1024)} MiB), 414, 431, 501 e 505; e 405
(`metodo_nao_permitido`, com `Allow`) para um método que o caminho não aceita. Qualquer rota pode
responder 503 com `Retry-After` quando o armazenamento está sem espaço ou indisponível
(`armazenamento_indisponivel`); nada foi gravado nesse caso.

**HEAD e OPTIONS**: HEAD responde como GET, sem corpo, em toda rota com GET; OPTIONS responde 204
com `Allow` e os cabeçalhos de CORS em todo caminho da API. Toda resposta traz
`Access-Control-Allow-Origin: *`.

**Datas**: instantes saem em ISO 8601 com o fuso do medidor. Os parâmetros `de` e `ate` aceitam
milissegundos desde 1970, uma data `AAAA-MM-DD` (meia-noite local; em `ate`, o fim desse dia) ou
data e hora ISO 8601 (com fuso, ou lida no fuso do medidor).
"""


class UndocumentedRoute(Exception):
    """The router and the descriptions disagree: the message lists what is missing on each side."""


def descriptions(legacy: bool) -> dict[str, dict[str, Any]]:
    """Every description, by path and method (lower-case, as OpenAPI writes them)."""
    return {**meter_operations(), **report_operations(), **billing_operations(), **root_operations(legacy),
            **key_operations(), **site_operations(), **central_operations()}


def paths(routes: Iterable[Route]) -> dict[str, Any]:
    """The document's `paths`, one operation per route and method, in the router's order."""
    routes = tuple(routes)
    described = descriptions(legacy=any(r.legacy for r in routes))
    served = {(r.path, m.lower()) for r in routes for m in r.methods}
    written = {(path, method) for path, ops in described.items() for method in ops}
    if served != written:
        raise UndocumentedRoute(f"rotas sem descrição: {sorted(served - written)}; "
                                f"descrições sem rota: {sorted(written - served)}")
    out: dict[str, Any] = {}
    for route in routes:
        for method, handler in route.methods.items():
            op = dict(described[route.path][method.lower()])
            out.setdefault(route.path, {})[method.lower()] = {"operationId": handler.__name__, **op}
    return out


def schemas() -> dict[str, Any]:
    return {
        "Erro": obj({"erro": obj({
            "codigo": {"type": "string", "description": "Código estável, para programas."},
            "mensagem": {"type": "string", "description": "Explicação para pessoas, em português."},
            "campo": {"type": "string", "description": "Quando a regra sabe: o caminho do campo recusado "
                                                       "(`versoes[1].energia.janelas[0].inicio`)."},
        }, ["codigo", "mensagem"])}, ["erro"]),
        "Saude": obj({
            "estado": {"enum": ["ok", "degradado"]},
            "motivo": {"type": "string", "description": "Só quando degradado: o que não está funcionando."},
            "versao": {"type": "string"},
            "desde_s": {"type": "number", "minimum": 0},
            "medidores": {"type": "integer", "minimum": 0},
            # The storage backend reports its own counters; only these two are promised.
            "armazenamento": obj({"documentos": {"type": "string", "description": "O nome do banco, sem caminho."},
                                  "leituras": {"type": "integer", "minimum": 0}},
                                 ["documentos", "leituras"], extra=True),
        }, ["estado", "versao", "desde_s", "medidores", "armazenamento"]),
        "DocumentoOpenApi": {"type": "object", "required": ["openapi", "info", "paths"],
                             "description": "Este documento."},
        **reading_schemas(), **alert_and_command_schemas(), **meter_schemas(), **tariff_schemas(),
        **invoice_schemas(), **consumption_schemas(), **key_schemas(), **site_schemas(), **central_schemas(),
    }


def document(routes: Iterable[Route], *, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `routes` (those of the router that serves it)."""
    routes = tuple(routes)
    legacy = any(r.legacy for r in routes)
    tags = TAGS if legacy else [t for t in TAGS if t[0] not in ("Legado 004", BLIP_TAG, EVENTS_TAG)]
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "monitor-energia",
            "version": version,
            "summary": "Monitoramento de energia elétrica aberto: consumo, faturas e alertas.",
            "description": DESCRIPTION,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": "/", "description": "Este servidor."}],
        "tags": [{"name": name, "description": text} for name, text in tags],
        "security": [{"bearerAuth": []}],
        "paths": paths(routes),
        "components": {
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer",
                "description": "A chave de administração, de registro, ou a de escrita ou leitura de um medidor."}},
            "schemas": schemas(),
            "responses": error_components(),
        },
    }


def document_bytes(routes: Iterable[Route], *, version: str) -> bytes:
    return json.dumps(document(routes, version=version), ensure_ascii=False, separators=(",", ":")).encode("utf-8")

