"""GET /api/v1/openapi.json: the OpenAPI 3.1 document of every route the server answers.

The document is plain data built here, not generated from the handlers: the handlers validate by
hand, so only a person can say what they mean to accept and answer. What can be shared is
shared: every bound (batch size, page size, long-poll wait, id patterns, tariff limits,
measurement codes) is read from the constant the handler or model validates with, at each
request. The document therefore cannot drift from those numbers, and a test that narrows one
(the long poll's wait) finds the narrowed value documented too. tests/test_openapi.py checks the
rest against the live server with schemathesis, and that every registered route is described.

Texts the user reads (summaries, descriptions, tags) are in pt-BR; operationIds are the names of
the handler functions, so a reader of the document finds the code that answers each operation.
"""
from __future__ import annotations

from typing import Any

from shared import models
from servidor.billing import tariffs as tariff_rules
from servidor.billing.calendar import INTERVALS, MAX_BUCKETS, MAX_EPOCH_DIGITS
from shared.http.limits import DEFAULT_LIMITS
from shared.http.messages import Response
from shared.money import MAX_DECIMALS
from servidor.alert_rules import LIMITE_EXCEDIDO, PROJECAO_LIMITE, REINICIO_CONTADOR, SILENCIO
from servidor.api import alerts as alert_routes
from servidor.api import readings as reading_routes
from servidor.api.call import Call, ok
from servidor.domain import commands, meters
from servidor.domain.invoices import MAX_MONTHS

OPENAPI_VERSION = "3.1.0"
JSON = "application/json"
# /metrics answers the Prometheus text exposition format 0.0.4.
PROMETHEUS = "text/plain"
# Examples are dated in the past of any run of the suite (a reading stamped in the future is
# refused) and match the demo store of README.md, so Postman users get answers with data.
EXAMPLE_METER = "casa-silva"
EXAMPLE_TARIFF = "residencial"
EXAMPLE_MONTH = "2026-10"
EXAMPLE_TS = "2026-10-15T19:00:00-03:00"
# servidor.billing.tariffs checks ids with fullmatch; JSON Schema patterns search, so anchor it. Read from
# the regex itself so a change to the rule changes the document.
TARIFF_ID_PATTERN = f"^(?:{tariff_rules._SLUG_RE.pattern})$"

TAGS = [
    ("Sistema", "Saúde do servidor, este documento e as métricas para o Prometheus."),
    ("Medidores", "Cadastro dos medidores e o estado de cada um: potência agora, kWh do dia e do mês, "
                  "fatura projetada e alertas."),
    ("Leituras", "Envio de leituras pelo agente do medidor, histórico bruto e acompanhamento ao vivo."),
    ("Consumo e faturas", "kWh por hora, dia ou mês no calendário local do medidor e as faturas mensais."),
    ("Alertas", "Limite do mês, projeção, silêncio, contador reiniciado e falhas informadas pelo agente."),
    ("Comandos", "Comandos remotos entregues ao agente do medidor na resposta à sua próxima leitura."),
    ("Tarifas", "Preço por kWh ou por faixas, taxa fixa mensal e impostos usados nas faturas."),
    ("Legado 004", "As rotas do sistema 004, mantidas sem mudança para os medidores antigos. "
                   "Abertas (sem chave), como no 004; desligadas com `--sem-legado`."),
]

DESCRIPTION = f"""\
API JSON do monitor-energia: medidores, leituras, consumo, faturas, alertas, comandos e tarifas.

**Autenticação**: `Authorization: Bearer <chave>`. A chave de administração vê e altera tudo; a de
registro só cria medidores; cada medidor tem uma chave de escrita (a do seu agente) e uma de leitura
(a do dono). Sem chave, ou com chave desconhecida, a resposta é 401; com chave sem acesso, 403.

**Erros**: todo erro tem o corpo `{{"erro": {{"codigo": "...", "mensagem": "..."}}}}`; o `codigo` é
estável, a `mensagem` é para pessoas. Além das respostas listadas em cada operação, qualquer rota
pode responder com erros do protocolo HTTP no mesmo formato, fechando a conexão: 400
(`requisicao_invalida`), 408 (`tempo_esgotado`), 413 (`corpo_grande_demais`, corpo acima de
{DEFAULT_LIMITS.max_body_bytes // (1024 * 1024)} MiB), 414, 431, 501 e 505; e 405
(`metodo_nao_permitido`, com `Allow`) para um método que o caminho não aceita.

**HEAD e OPTIONS**: HEAD responde como GET, sem corpo, em toda rota com GET; OPTIONS responde 204
com `Allow` e os cabeçalhos de CORS em todo caminho da API. Toda resposta traz
`Access-Control-Allow-Origin: *`.

**Datas**: instantes saem em ISO 8601 com o fuso do medidor. Os parâmetros `de` e `ate` aceitam
milissegundos desde 1970, uma data `AAAA-MM-DD` (meia-noite local; em `ate`, o fim desse dia) ou
data e hora ISO 8601 (com fuso, ou lida no fuso do medidor).
"""


# --- building blocks ------------------------------------------------------------------------------

def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """The same schema that also admits null (OpenAPI 3.1 has no `nullable`)."""
    return {"anyOf": [schema, {"type": "null"}]}


def _object(properties: dict[str, Any], required: tuple[str, ...] | list[str] = (), *,
            extra: bool = False, description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    # Request schemas stay closed where the handler refuses unknown fields; response schemas are
    # closed so that a field added to an answer must be documented here first.
    schema["additionalProperties"] = extra
    if description:
        schema["description"] = description
    return schema


def _instant(description: str) -> dict[str, Any]:
    return {"type": "string", "format": "date-time", "description": description}


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {JSON: {"schema": schema}}


def _ok(description: str, schema_name: str) -> dict[str, Any]:
    return {"description": description, "content": _json_content(_ref(schema_name))}


def _error_ref(status: str) -> dict[str, Any]:
    return {"$ref": f"#/components/responses/{ERROR_RESPONSES[status][0]}"}


# status → (component name, description of what the server means by it here)
ERROR_RESPONSES: dict[str, tuple[str, str]] = {
    "400": ("JsonInvalido", "O corpo está vazio ou não é JSON (`json_invalido`)."),
    "401": ("NaoAutenticado", "Sem chave, chave desconhecida ou cabeçalho Authorization malformado "
                              "(`nao_autenticado`)."),
    "403": ("SemPermissao", "A chave não dá acesso a esta operação ou a este medidor (`sem_permissao`)."),
    "404": ("NaoEncontrado", "O medidor, a tarifa, o alerta ou a fatura não existe (`nao_encontrado`)."),
    "409": ("Conflito", "Conflito com o que já existe (`conflito`)."),
    "413": ("CorpoGrandeDemais", f"Corpo acima de {DEFAULT_LIMITS.max_body_bytes} bytes "
                                 "(`corpo_grande_demais`); a conexão é fechada."),
    "415": ("TipoNaoSuportado", "O Content-Type não é JSON (`tipo_nao_suportado`)."),
    "422": ("DadosInvalidos", "JSON bem formado, mas com dados que a regra recusa (`dados_invalidos`; "
                              "leituras: `leitura_invalida`, `lote_grande_demais`). A mensagem diz o motivo."),
    "500": ("ErroInterno", "Falha inesperada do servidor (`erro_interno`); o detalhe fica só no log."),
    "503": ("Indisponivel", "Conexões demais abertas (`servidor_sobrecarregado`) ou servidor sendo "
                            "encerrado (`servidor_encerrando`); tente de novo após `Retry-After` segundos."),
}


def _error_components() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, (name, description) in ERROR_RESPONSES.items():
        response: dict[str, Any] = {"description": description, "content": _json_content(_ref("Erro"))}
        if status == "401":
            response["headers"] = {"WWW-Authenticate": {
                "description": "O esquema exigido (RFC 9110 §11.6.1): `Bearer realm=\"monitor-energia\"`.",
                "schema": {"type": "string"}}}
        if status == "503":
            response["headers"] = {"Retry-After": {
                "description": "Segundos a esperar antes de tentar de novo.", "schema": {"type": "string"}}}
        out[name] = response
    return out


def _operation(handler: str, tag: str, summary: str, description: str, responses: dict[str, Any], *,
               errors: tuple[str, ...] = (), parameters: list[dict[str, Any]] | None = None,
               body: dict[str, Any] | None = None, open_route: bool = False,
               deprecated: bool = False) -> dict[str, Any]:
    """One operation; every one may also answer 500 and 503, so those are added here."""
    op: dict[str, Any] = {"operationId": handler, "tags": [tag], "summary": summary, "description": description}
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = body
    all_responses = dict(responses)
    for status in errors + ("500", "503"):
        all_responses[status] = _error_ref(status)
    op["responses"] = dict(sorted(all_responses.items()))
    op["security"] = [] if open_route else [{"bearerAuth": []}]
    if deprecated:
        op["deprecated"] = True
    return op


def _json_body(schema: dict[str, Any], description: str, examples: dict[str, Any]) -> dict[str, Any]:
    """A required JSON body; `examples` feed Postman and schemathesis' example phase."""
    return {"required": True, "description": description, "content": {JSON: {
        "schema": schema,
        "examples": {name: {"summary": summary, "value": value} for name, (summary, value) in examples.items()},
    }}}


# --- parameters -----------------------------------------------------------------------------------

def _meter_param(example: str = EXAMPLE_METER) -> dict[str, Any]:
    return {"name": "id", "in": "path", "required": True, "description": "Id do medidor.",
            "schema": {"type": "string", "pattern": meters.METER_ID.pattern}, "example": example}


def _query(name: str, schema: dict[str, Any], description: str, example: Any = None) -> dict[str, Any]:
    # The handlers read an empty value (`?limite=`) as an absent one, so empty is valid.
    param: dict[str, Any] = {"name": name, "in": "query", "required": False, "allowEmptyValue": True,
                             "description": description, "schema": schema}
    if example is not None:
        param["example"] = example
    return param


def _instant_query(name: str, description: str, example: str | None = None) -> dict[str, Any]:
    return _query(name, {"type": "string"}, description + (
        f" Milissegundos desde 1970 (até {MAX_EPOCH_DIGITS} dígitos), `AAAA-MM-DD` ou data e hora ISO 8601;"
        " de 1970 a 9998."), example)


# --- schemas --------------------------------------------------------------------------------------

def _measurement_schemas(per_code: dict[str, Any]) -> dict[str, Any]:
    return {code: {**per_code, "description": f"Medida {code}" + (f" ({unit})." if unit else " (adimensional).")}
            for code, unit in models.MEASUREMENT_CODES.items()}


def _schemas() -> dict[str, Any]:
    number_or_list = {"anyOf": [
        {"type": "number"},
        {"type": "array", "items": {"type": "number"}, "minItems": 1, "maxItems": models.MAX_VALUES_PER_CODE},
    ]}
    reading_in = _object({
        "seq": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1,
                "description": "Número de sequência escolhido pelo medidor; um seq repetido é confirmado "
                               "como duplicado e não é gravado de novo."},
        "ts": {"description": "Instante da leitura: ISO 8601 com fuso (Z ou ±HH:MM) ou milissegundos desde "
                              "1970. Não antes de 2000-01-01 nem mais de "
                              f"{models.MAX_FUTURE_SKEW_MS // 60000} minutos à frente do relógio do servidor.",
               "anyOf": [{"type": "string", "format": "date-time"},
                         {"type": "integer", "minimum": models.EARLIEST_TS_MS, "maximum": 2**53 - 1}]},
        "energia_wh": {"type": "number", "minimum": 0, "description": "Contador de energia acumulado, em Wh."},
        "potencia_w": {"type": ["number", "null"], "description": "Potência ativa no instante, em W."},
        "estimada": {"type": "boolean", "default": False,
                     "description": "O contador foi integrado da potência, não lido do aparelho."},
        **_measurement_schemas(number_or_list),
    }, ["seq", "ts", "energia_wh"], description="Uma leitura. Campos fora desta lista são recusados.")
    reading_out = _object({
        "seq": {"type": "integer", "minimum": 0},
        "ts": _instant("Instante da leitura no fuso do medidor."),
        "energia_wh": {"type": "number", "minimum": 0},
        "potencia_w": {"type": "number"},
        "estimada": {"const": True, "description": "Presente só quando a leitura foi estimada."},
        "reinicio": {"const": True, "description": "O contador voltou abaixo da leitura anterior (troca ou "
                                                   "reinício do medidor)."},
        **_measurement_schemas(number_or_list),
    }, ["seq", "ts", "energia_wh"])
    command = _object({
        "id": {"type": "string"},
        "medidor": {"type": "string"},
        "comando": {"enum": list(commands.VERBS)},
        "valor": {"type": ["number", "null"]},
        "criado_em": _instant("Quando o comando foi enfileirado."),
    }, ["id", "medidor", "comando", "valor", "criado_em"])
    with_value = [v for v in commands.VERBS if v in commands.NEEDS_VALUE]
    without_value = [v for v in commands.VERBS if v not in commands.NEEDS_VALUE]
    new_command = {
        "type": "object",
        "description": f"`{'`, `'.join(without_value)}` sem valor; `{'` e `'.join(with_value)}` com um valor > 0 "
                       "(o novo multiplicador, ou o novo limite do mês em kWh). Outros campos são ignorados.",
        "oneOf": [
            {"type": "object", "required": ["comando"],
             "properties": {"comando": {"enum": without_value}, "valor": {"type": "null"}}},
            {"type": "object", "required": ["comando", "valor"],
             "properties": {"comando": {"enum": with_value}, "valor": {"type": "number", "exclusiveMinimum": 0}}},
        ],
    }
    alert = _object({
        "id": {"type": "string"},
        "medidor": {"type": "string"},
        "tipo": {"enum": [LIMITE_EXCEDIDO, PROJECAO_LIMITE, SILENCIO, REINICIO_CONTADOR,
                          *alert_routes.AGENT_ALERT_TYPES]},
        "chave": {"type": "string", "description": "Identifica o alerta: a mesma chave não gera um segundo alerta."},
        "mensagem": {"type": "string"},
        "criado_em": _instant("Quando o alerta foi criado."),
        "reconhecido": {"type": "boolean"},
        "reconhecido_em": _nullable(_instant("Quando foi reconhecido.")),
    }, ["id", "medidor", "tipo", "chave", "mensagem", "criado_em", "reconhecido", "reconhecido_em"])
    new_alert = _object({
        "tipo": {"enum": list(alert_routes.AGENT_ALERT_TYPES)},
        "mensagem": {"type": "string", "minLength": 1, "maxLength": alert_routes.MAX_MESSAGE, "pattern": r"\S",
                     "description": "Texto não vazio."},
        # The handler uses `chave` only when it is a string and falls back to the message otherwise,
        # so any value is accepted; a string is what is meant.
        "chave": {"description": "Texto que identifica a falha para não repeti-la (padrão: a mensagem); "
                                 "um valor que não seja texto é ignorado."},
    }, ["tipo", "mensagem"], extra=True, description="Um alerta levantado pelo agente. Outros campos são ignorados.")

    editable = {
        "nome": {"type": "string", "minLength": 1, "maxLength": meters.MAX_NAME, "pattern": r"\S",
                 "description": "Nome para pessoas (padrão: o id)."},
        "categoria": {"enum": list(meters.CATEGORIES), "default": "gridImport"},
        "fuso": {"type": "string", "description": "Fuso IANA do calendário do medidor (padrão: o do servidor).",
                 "examples": ["America/Sao_Paulo"]},
        "limite_alerta_kwh": {"anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "null"}],
                              "default": 500.0, "description": "Limite mensal em kWh para alertas; null desliga."},
        "multiplicador": {"type": "number", "exclusiveMinimum": 0, "default": 1.0},
        "tarifa": {"type": "string", "minLength": 1, "default": "padrao",
                   "description": "Id de uma tarifa existente."},
        "estado": {"enum": list(meters.STATES), "default": "ativo"},
        "silencio_s": {"type": "integer", "minimum": 60, "default": meters.DEFAULT_SILENCE_S,
                       "description": "Segundos sem leitura até o alerta de silêncio."},
    }
    # A client that PUTs back what it GOT may include these; the handler ignores them.
    echoed = {name: {"description": "Ignorado (aceito para que o corpo de um GET possa ser reenviado)."}
              for name in ("criado_em", "atualizado_em", "ultima_leitura")}
    new_meter = _object({
        "id": {"type": "string", "pattern": meters.METER_ID.pattern,
               "description": "Letras, dígitos, '.', '_' ou '-', até 64, começando por letra ou dígito."},
        **editable, **echoed,
    }, ["id"], description="Um medidor novo. Campos fora desta lista são recusados.")
    meter_fields = _object({**editable, **echoed}, description=(
        "Os campos editáveis; os omitidos voltam ao padrão. Campos fora desta lista (inclusive `id`) "
        "são recusados."))

    meter_properties = {
        "id": {"type": "string", "pattern": meters.METER_ID.pattern},
        "nome": {"type": "string"},
        "categoria": {"enum": list(meters.CATEGORIES)},
        "fuso": {"type": "string"},
        "limite_alerta_kwh": {"type": ["number", "null"]},
        "multiplicador": {"type": "number"},
        "tarifa": {"type": "string"},
        "estado": {"enum": list(meters.STATES)},
        "silencio_s": {"type": "integer", "minimum": 60},
        "criado_em": _instant("Quando o medidor foi criado."),
        "atualizado_em": _instant("Última alteração do cadastro."),
        "ultima_leitura": _nullable(_object({
            "seq": {"type": "integer"}, "ts": _instant("Instante da leitura."),
            "energia_wh": {"type": "number"}, "potencia_w": {"type": ["number", "null"]},
        }, ["seq", "ts", "energia_wh", "potencia_w"])),
        "resumo": _ref("Resumo"),
    }
    meter_required = list(meter_properties)
    detail_properties = {
        **meter_properties,
        "alertas_ativos": {"type": "array", "items": _ref("Alerta"), "description": "Alertas não reconhecidos."},
        "comandos_pendentes": {"type": "array", "items": _ref("Comando")},
    }
    created_properties = {
        **detail_properties,
        "chave_escrita": {"type": "string", "description": "Chave do agente do medidor; mostrada só agora."},
        "chave_leitura": {"type": "string", "description": "Chave do dono do medidor; mostrada só agora."},
        "aviso": {"type": "string"},
    }
    summary = _object({
        "potencia_w": {"type": ["number", "null"],
                       "description": "Potência agora; null sem leitura nos últimos 15 minutos."},
        "kwh_hoje": {"type": "number"},
        "kwh_mes": {"type": "number"},
        "cobertura_mes": {"type": "number", "minimum": 0, "maximum": 1,
                          "description": "Fração do mês até agora coberta por leituras."},
        "fatura_projetada": _object({"kwh": {"type": "number"}, "total": {"type": "number"},
                                     "total_formatado": {"type": "string"}}, ["kwh", "total", "total_formatado"],
                                    description="A fatura do mês se o ritmo até agora se mantiver."),
        "limite_uso_pct": {"type": ["number", "null"], "description": "kWh do mês em % do limite."},
        "alertas_ativos": {"type": "integer", "minimum": 0},
        "leituras": {"type": "integer", "minimum": 0},
    }, ["potencia_w", "kwh_hoje", "kwh_mes", "cobertura_mes", "fatura_projetada", "limite_uso_pct",
        "alertas_ativos", "leituras"])
    # 004's payloads are free JSON; these are read from them as they came.
    legacy_total = _object({
        "id": {"type": "string"}, "legado": {"const": True},
        "consumo_atual_kwh": {}, "consumo_total_kwh": {}, "valor_fatura": {}, "alerta": {},
        "atualizado_em": _instant("Quando o medidor antigo enviou pela última vez."),
    }, ["id", "legado", "consumo_atual_kwh", "consumo_total_kwh", "valor_fatura", "alerta", "atualizado_em"],
        description="Um medidor do 004, com os totais lidos do que ele enviou.")

    def amount(maximum: Any, description: str, **bounds: Any) -> dict[str, Any]:
        """A JSON number within the rule's bounds, or a numeric text the server parses itself."""
        number = {"type": "number", "minimum": 0, **bounds}
        if maximum is not None:
            number["maximum"] = int(maximum)
        return {"anyOf": [number, {"type": "string"}], "description": description}

    tier_in = _object({
        "ate_kwh": {"anyOf": [{"type": "number", "exclusiveMinimum": 0, "maximum": int(tariff_rules.MAX_FAIXA_KWH)},
                              {"type": "string"}, {"type": "null"}],
                    "description": "Limite superior da faixa em kWh do mês; null na última."},
        "preco_kwh": amount(tariff_rules.MAX_PRECO_KWH, "R$ por kWh nesta faixa."),
    }, ["preco_kwh"])
    tariff_fields = {
        "nome": {"type": "string", "minLength": 1, "maxLength": tariff_rules.MAX_NOME, "pattern": r"\S"},
        "preco_kwh": {**amount(tariff_rules.MAX_PRECO_KWH, "R$ por kWh (sem faixas)."), "default": 0.5},
        "taxa_fixa_mensal": {**amount(tariff_rules.MAX_TAXA_FIXA, "R$ por mês."), "default": 0},
        "impostos_pct": {**amount(None, "Alíquota somada dos impostos \"por dentro\" (ICMS, PIS/COFINS), "
                                        "menor que 100.", exclusiveMaximum=100), "default": 0},
        "faixas": {"type": "array", "items": tier_in, "maxItems": tariff_rules.MAX_FAIXAS,
                   "description": "Faixas de consumo com limites crescentes; só a última sem limite. "
                                  "Quando presentes, substituem preco_kwh."},
        "moeda": {"const": "BRL", "default": "BRL"},
    }
    tariff_note = (f" Valores podem ser números ou textos numéricos, com até {MAX_DECIMALS} casas "
                   "decimais. Campos fora desta lista são recusados.")
    new_tariff = _object({"id": {"type": "string", "pattern": TARIFF_ID_PATTERN}, **tariff_fields},
                         ["id", "nome"], description="Uma tarifa nova." + tariff_note)
    tariff_replacement = _object({
        "id": {"type": ["string", "null"], "description": "Se presente, igual ao id do caminho."},
        **tariff_fields,
    }, ["nome"], description="A tarifa inteira; os campos omitidos voltam ao padrão." + tariff_note)
    tariff_out = _object({
        "id": {"type": "string", "pattern": TARIFF_ID_PATTERN},
        "nome": {"type": "string"},
        "preco_kwh": {"type": "number", "minimum": 0},
        "taxa_fixa_mensal": {"type": "number", "minimum": 0},
        "impostos_pct": {"type": "number", "minimum": 0, "exclusiveMaximum": 100},
        "faixas": {"type": "array", "items": _object({"ate_kwh": {"type": ["number", "null"]},
                                                      "preco_kwh": {"type": "number"}}, ["ate_kwh", "preco_kwh"])},
        "moeda": {"const": "BRL"},
    }, ["id", "nome", "preco_kwh", "taxa_fixa_mensal", "impostos_pct", "faixas", "moeda"])

    invoice = _object({
        "medidor": {"type": "string"},
        "mes": {"type": "string", "pattern": r"^\d{4}-\d{2}$"},
        "tarifa": {"type": "string"},
        "kwh": {"type": "number", "minimum": 0},
        "itens": {"type": "array", "items": _object({
            "descricao": {"type": "string"}, "quantidade": {"type": "number"}, "unidade": {"type": "string"},
            "preco_unitario": {"type": "number"}, "valor": {"type": "number"},
        }, ["descricao", "quantidade", "unidade", "preco_unitario", "valor"])},
        "subtotal": {"type": "number"},
        "impostos": {"type": "number"},
        "total": {"type": "number", "description": "Soma exata dos itens, em reais."},
        "total_formatado": {"type": "string", "examples": ["R$ 1.234,56"]},
        "cobertura": {"type": "number", "minimum": 0, "maximum": 1},
        "parcial": {"type": "boolean", "description": "O mês não terminou: o total ainda vai mudar."},
        "situacao": {"enum": ["aberta", "fechada"]},
        "versao": {"type": "integer", "minimum": 1,
                   "description": "Só em faturas fechadas: sobe quando dados atrasados ou uma correção de "
                                  "tarifa mudam a fatura."},
        "emitida_em": _instant("Só em faturas fechadas."),
        "reemitida_em": _nullable(_instant("Só em faturas fechadas: a última reemissão.")),
    }, ["medidor", "mes", "tarifa", "kwh", "itens", "subtotal", "impostos", "total", "total_formatado",
        "cobertura", "parcial", "situacao"])

    return {
        "Erro": _object({"erro": _object({
            "codigo": {"type": "string", "description": "Código estável, para programas."},
            "mensagem": {"type": "string", "description": "Explicação para pessoas, em português."},
        }, ["codigo", "mensagem"])}, ["erro"]),
        "Saude": _object({
            "estado": {"const": "ok"},
            "versao": {"type": "string"},
            "desde_s": {"type": "number", "minimum": 0},
            "medidores": {"type": "integer", "minimum": 0},
            # The storage backend reports its own counters; only these two are promised.
            "armazenamento": _object({"documentos": {"type": "string"},
                                      "leituras": {"type": "integer", "minimum": 0}},
                                     ["documentos", "leituras"], extra=True),
        }, ["estado", "versao", "desde_s", "medidores", "armazenamento"]),
        "DocumentoOpenApi": {"type": "object", "required": ["openapi", "info", "paths"],
                             "description": "Este documento."},
        "Leitura": reading_in,
        "LoteDeLeituras": _object({
            "leituras": {"type": "array", "items": _ref("Leitura"), "maxItems": reading_routes.MAX_BATCH},
        }, ["leituras"], extra=True, description=(
            f"Até {reading_routes.MAX_BATCH} leituras. As válidas são gravadas mesmo que outras sejam "
            "recusadas; as recusadas voltam em `rejeitadas`.")),
        "ResultadoDoEnvio": _object({
            "aceitas": {"type": "integer", "minimum": 0},
            "duplicadas": {"type": "integer", "minimum": 0, "description": "Já gravadas antes (mesmo seq)."},
            "ultimo_seq": {"type": ["integer", "null"], "description": "Maior seq gravado deste medidor."},
            "comandos": {"type": "array", "items": _ref("Comando"),
                         "description": "Comandos pendentes, entregues agora e retirados da fila."},
            "rejeitadas": {"type": "array", "items": _object({
                "indice": {"type": "integer", "minimum": 0}, "seq": {"description": "O seq enviado, se houver."},
                "motivo": {"type": "string"}}, ["indice", "seq", "motivo"]),
                "description": "Só quando parte do lote foi recusada."},
        }, ["aceitas", "duplicadas", "ultimo_seq", "comandos"]),
        "LeituraGuardada": reading_out,
        "PaginaDeLeituras": _object({
            "medidor": {"type": "string"},
            "leituras": {"type": "array", "items": _ref("LeituraGuardada")},
            "total": {"type": "integer", "minimum": 0, "description": "Leituras nesta página."},
            "proxima_pagina": {"type": "string", "description": "Caminho da página seguinte, se houver."},
            "proximo_de": _instant("Instante da primeira leitura da página seguinte."),
        }, ["medidor", "leituras", "total"]),
        "LeiturasAoVivo": _object({
            "medidor": {"type": "string"},
            "leituras": {"type": "array", "items": _ref("LeituraGuardada"), "minItems": 1,
                         "maxItems": reading_routes.LIVE_BATCH},
            "ultimo_seq": {"type": "integer", "description": "Use como `apos` na próxima espera."},
        }, ["medidor", "leituras", "ultimo_seq"]),
        "Consumo": _object({
            "medidor": {"type": "string"},
            "intervalo": {"enum": list(INTERVALS)},
            "fuso": {"type": "string"},
            "unidade": {"const": "kWh"},
            "total_kwh": {"type": "number"},
            "consumo": {"type": "array", "maxItems": MAX_BUCKETS, "items": _object({
                "rotulo": {"type": "string", "description": "Hora `AAAA-MM-DDTHH:MM±HH:MM`, dia `AAAA-MM-DD` "
                                                            "ou mês `AAAA-MM`, no calendário local."},
                "inicio": _instant("Início do período."),
                "fim": _instant("Fim do período (exclusivo)."),
                "kwh": {"type": "number"},
                "cobertura": {"type": "number", "minimum": 0, "maximum": 1,
                              "description": "Fração do período coberta por leituras."},
                "parcial": {"const": True, "description": "O período contém o instante atual."},
            }, ["rotulo", "inicio", "fim", "kwh", "cobertura"])},
        }, ["medidor", "intervalo", "fuso", "unidade", "total_kwh", "consumo"]),
        "Fatura": invoice,
        "ListaDeFaturas": _object({"medidor": {"type": "string"},
                                   "faturas": {"type": "array", "items": _ref("Fatura")}}, ["medidor", "faturas"]),
        "Resumo": summary,
        "Medidor": _object(meter_properties, meter_required),
        "MedidorDetalhado": _object(detail_properties, meter_required + ["alertas_ativos", "comandos_pendentes"]),
        "MedidorCriado": _object(created_properties, list(created_properties)),
        "NovoMedidor": new_meter,
        "CamposDoMedidor": meter_fields,
        "MedidorLegadoResumo": legacy_total,
        "ListaDeMedidores": _object({
            "medidores": {"type": "array", "items": _ref("Medidor")},
            "legado": {"type": "array", "items": _ref("MedidorLegadoResumo"),
                       "description": "Só para a chave de administração, com as rotas do 004 ligadas."},
        }, ["medidores"]),
        "Alerta": alert,
        "NovoAlerta": new_alert,
        "AlertaDuplicado": _object({"duplicado": {"const": True}}, ["duplicado"]),
        "ListaDeAlertas": _object({"medidor": {"type": "string"},
                                   "alertas": {"type": "array", "items": _ref("Alerta")}}, ["medidor", "alertas"]),
        "Comando": command,
        "NovoComando": new_command,
        "ListaDeComandos": _object({"medidor": {"type": "string"},
                                    "comandos": {"type": "array", "items": _ref("Comando")}},
                                   ["medidor", "comandos"]),
        "Tarifa": tariff_out,
        "NovaTarifa": new_tariff,
        "TarifaSubstituta": tariff_replacement,
        "ListaDeTarifas": _object({"tarifas": {"type": "array", "items": _ref("Tarifa")}}, ["tarifas"]),
        "DadosLegados": {"type": "object", "description": "O JSON que o medidor do 004 enviou, como veio."},
        "LegadoRecebido": _object({"id": {"type": "string"}, "recebido_em": _instant("Quando foi gravado.")},
                                  ["id", "recebido_em"]),
    }


# --- examples -------------------------------------------------------------------------------------

READING_EXAMPLE = {"seq": 42, "ts": EXAMPLE_TS, "energia_wh": 123456.5, "potencia_w": 850}
BATCH_EXAMPLE = {"leituras": [
    {"seq": 43, "ts": "2026-10-15T19:00:10-03:00", "energia_wh": 123458.9, "potencia_w": 862, "TPF": [127.1]},
    {"seq": 44, "ts": 1792101620000, "energia_wh": 123461.3, "potencia_w": 870, "FRE": 60.0},  # 19:00:20-03:00
]}
NEW_METER_EXAMPLE = {"id": "apto-101", "nome": "Apartamento 101", "fuso": "America/Sao_Paulo",
                     "limite_alerta_kwh": 200, "tarifa": "padrao"}
METER_FIELDS_EXAMPLE = {"nome": "Casa da família Silva", "limite_alerta_kwh": 250, "tarifa": EXAMPLE_TARIFF}
NEW_TARIFF_EXAMPLE = {"id": "social", "nome": "Tarifa social (faixas)", "taxa_fixa_mensal": 0, "impostos_pct": 25,
                      "faixas": [{"ate_kwh": 30, "preco_kwh": 0.21}, {"ate_kwh": 100, "preco_kwh": 0.36},
                                 {"ate_kwh": 220, "preco_kwh": 0.54}, {"ate_kwh": None, "preco_kwh": 0.6}]}
TARIFF_REPLACEMENT_EXAMPLE = {"nome": "Residencial B1 (faixas)", "preco_kwh": 0.78, "taxa_fixa_mensal": 12.5,
                              "impostos_pct": 25, "faixas": [{"ate_kwh": 100, "preco_kwh": 0.62},
                                                             {"ate_kwh": None, "preco_kwh": 0.81}]}


# --- paths ----------------------------------------------------------------------------------------

def _api_paths() -> dict[str, Any]:
    api = "/api/v1"
    meter = f"{api}/medidores/{{id}}"
    read_note = "Chave de leitura ou de escrita do medidor, ou a de administração."
    write_note = "Chave de escrita do medidor ou a de administração."
    body_errors = ("400", "413", "415", "422")
    paging = [
        _instant_query("de", "Início (inclusivo).", "2026-10-01"),
        _instant_query("ate", "Fim (exclusivo; uma data inclui o dia inteiro).", "2026-10-02"),
        _query("limite", {"type": "integer", "minimum": 1, "maximum": reading_routes.MAX_PAGE,
                          "default": reading_routes.DEFAULT_PAGE}, "Leituras por página.", 100),
    ]
    wait = reading_routes.MAX_WAIT_S
    return {
        f"{api}/openapi.json": {"get": _operation(
            "get_openapi", "Sistema", "Este documento",
            "O documento OpenAPI 3.1 de todas as rotas do servidor. Aberto, sem chave.",
            {"200": _ok("O documento.", "DocumentoOpenApi")}, open_route=True)},
        f"{api}/saude": {"get": _operation(
            "health", "Sistema", "Vida e estado do armazenamento",
            "Responde enquanto o servidor estiver de pé, com a versão, o tempo desde o início e os números do "
            "armazenamento. Aberto, sem chave.",
            {"200": _ok("O servidor está de pé.", "Saude")}, open_route=True)},
        f"{api}/medidores": {
            "get": _operation(
                "list_meters", "Medidores", "Lista os medidores com resumo",
                "A chave de administração vê todos (e os medidores do 004 em `legado`); a chave de um medidor "
                "vê só o seu. A chave de registro recebe 403.",
                {"200": _ok("Os medidores.", "ListaDeMedidores")}, errors=("401", "403")),
            "post": _operation(
                "create_meter", "Medidores", "Cria um medidor",
                "Com a chave de administração ou a de registro. A resposta traz a chave de escrita e a de "
                "leitura do medidor, mostradas só esta vez (o servidor guarda apenas o hash). Um id que já "
                "existe é 409; uma tarifa que não existe, 422.",
                {"201": _ok("Criado; guarde as chaves.", "MedidorCriado")},
                errors=("401", "403", "409") + body_errors,
                body=_json_body(_ref("NovoMedidor"), "O medidor.", {"medidor": ("Um apartamento", NEW_METER_EXAMPLE)})),
        },
        meter: {
            "get": _operation(
                "get_meter", "Medidores", "Um medidor e seu estado",
                "O cadastro, a última leitura, o resumo (potência agora, kWh hoje e no mês, fatura projetada), "
                f"os alertas ativos e os comandos pendentes. {read_note}",
                {"200": _ok("O medidor.", "MedidorDetalhado")}, errors=("401", "403", "404"),
                parameters=[_meter_param()]),
            "put": _operation(
                "put_meter", "Medidores", "Substitui o cadastro de um medidor",
                f"Os campos omitidos voltam ao padrão. {write_note}",
                {"200": _ok("O medidor alterado.", "MedidorDetalhado")},
                errors=("401", "403", "404") + body_errors, parameters=[_meter_param()],
                body=_json_body(_ref("CamposDoMedidor"), "Os campos editáveis.",
                                {"campos": ("Nome, limite e tarifa", METER_FIELDS_EXAMPLE)})),
            "delete": _operation(
                "delete_meter", "Medidores", "Apaga um medidor",
                "Apaga o medidor, suas leituras, alertas, faturas, comandos e chaves. Só a chave de administração.",
                {"204": {"description": "Apagado."}}, errors=("401", "403", "404"),
                # Postman and schemathesis' example phase send this example: never the demo meter.
                parameters=[_meter_param("medidor-descartado")]),
        },
        f"{meter}/leituras": {
            "get": _operation(
                "get_readings", "Leituras", "Leituras brutas, paginadas",
                "As leituras em ordem de instante. Quando há mais, `proxima_pagina` traz o caminho da "
                f"seguinte. Para totais por período use `/consumo`. {read_note}",
                {"200": _ok("Uma página de leituras.", "PaginaDeLeituras")},
                errors=("401", "403", "404", "422"), parameters=[_meter_param(), *paging]),
            "post": _operation(
                "post_readings", "Leituras", "Envia uma leitura ou um lote",
                f"Uma leitura, ou `{{\"leituras\": [...]}}` com até {reading_routes.MAX_BATCH}. Um seq já gravado "
                "é contado em `duplicadas` e não é gravado de novo, então reenviar é seguro. Num lote, as "
                "leituras válidas são gravadas e as inválidas voltam em `rejeitadas`; se nenhuma for válida, "
                "422 com todos os motivos. A resposta entrega os comandos pendentes do medidor. "
                f"{write_note}",
                {"200": _ok("Gravadas (ou já gravadas).", "ResultadoDoEnvio")},
                errors=("401", "403", "404") + body_errors, parameters=[_meter_param()],
                body=_json_body({"oneOf": [_ref("Leitura"), _ref("LoteDeLeituras")]}, "Uma leitura ou um lote.",
                                {"leitura": ("Uma leitura", READING_EXAMPLE),
                                 "lote": ("Um lote com medidas extras", BATCH_EXAMPLE)})),
        },
        f"{meter}/ao-vivo": {"get": _operation(
            "get_live", "Leituras", "Espera a próxima leitura (long poll)",
            "Responde assim que houver leitura com seq maior que `apos` (até "
            f"{reading_routes.LIVE_BATCH} por resposta), ou 204 depois de `espera` segundos sem nenhuma. "
            f"Repita com `apos` igual ao `ultimo_seq` recebido. {read_note}",
            {"200": _ok("Leituras novas.", "LeiturasAoVivo"),
             "204": {"description": "Nenhuma leitura nova durante a espera."}},
            errors=("401", "403", "404", "422"), parameters=[
                _meter_param(),
                _query("apos", {"type": "integer", "minimum": -1, "maximum": 2**63 - 1},
                       "Responder com as leituras de seq maior que este; -1 pede todas desde o início. "
                       "Sem ele, espera a próxima depois da última gravada.", 42),
                _query("espera", {"type": "number", "minimum": 0, "maximum": wait,
                                  "default": reading_routes.DEFAULT_WAIT_S},
                       "Segundos a esperar por uma leitura nova; 0 responde na hora.", 0),
            ])},
        f"{meter}/consumo": {"get": _operation(
            "get_consumption", "Consumo e faturas", "kWh por hora, dia ou mês",
            "O consumo por período no calendário local do medidor (dias de 23 ou 25 horas no horário de "
            "verão incluídos), com a cobertura de leituras de cada período. Sem `de`, as últimas 24 horas, "
            f"30 dias ou 365 dias; períodos futuros não aparecem. No máximo {MAX_BUCKETS} períodos. {read_note}",
            {"200": _ok("O consumo.", "Consumo")}, errors=("401", "403", "404", "422"), parameters=[
                _meter_param(),
                _instant_query("de", "Início.", "2026-10-01"),
                _instant_query("ate", "Fim (uma data inclui o dia inteiro; padrão: agora).", "2026-10-31"),
                _query("intervalo", {"enum": list(INTERVALS), "default": "dia"}, "Tamanho dos períodos.", "dia"),
            ])},
        f"{meter}/faturas": {"get": _operation(
            "list_invoices", "Consumo e faturas", "Faturas mensais",
            f"Uma fatura por mês, do mês atual (aberta) até o da primeira leitura (no máximo {MAX_MONTHS}). Um mês "
            f"fechado é reemitido, com nova `versao`, se dados atrasados ou a tarifa o mudarem. {read_note}",
            {"200": _ok("As faturas, da mais recente à mais antiga.", "ListaDeFaturas")},
            errors=("401", "403", "404"), parameters=[_meter_param()])},
        f"{meter}/faturas/{{mes}}": {"get": _operation(
            "get_invoice", "Consumo e faturas", "A fatura de um mês",
            f"A fatura do mês `AAAA-MM` (1970-01 a 9998-12). Um mês que ainda não começou é 404. {read_note}",
            {"200": _ok("A fatura.", "Fatura")}, errors=("401", "403", "404", "422"), parameters=[
                _meter_param(),
                {"name": "mes", "in": "path", "required": True, "description": "O mês, `AAAA-MM`.",
                 "schema": {"type": "string", "pattern": r"^\d{4}-\d{2}$"}, "example": EXAMPLE_MONTH},
            ])},
        f"{meter}/alertas": {
            "get": _operation(
                "list_alerts", "Alertas", "Alertas do medidor",
                f"Todos os alertas, do mais recente ao mais antigo, reconhecidos ou não. {read_note}",
                {"200": _ok("Os alertas.", "ListaDeAlertas")}, errors=("401", "403", "404"),
                parameters=[_meter_param()]),
            "post": _operation(
                "raise_alert", "Alertas", "O agente informa uma falha",
                f"Tipos `{'`, `'.join(alert_routes.AGENT_ALERT_TYPES)}`. A mesma `chave` não cria um segundo "
                f"alerta: a resposta é 200 com `duplicado`. {write_note}",
                {"201": _ok("Alerta criado.", "Alerta"),
                 "200": _ok("Já existia um alerta com esta chave.", "AlertaDuplicado")},
                errors=("401", "403", "404") + body_errors, parameters=[_meter_param()],
                body=_json_body(_ref("NovoAlerta"), "A falha.", {"falha": ("Dispositivo sem resposta", {
                    "tipo": "falha_dispositivo", "mensagem": "Modbus sem resposta há 5 minutos",
                    "chave": "modbus"})})),
        },
        f"{meter}/alertas/{{alerta}}/reconhecer": {"post": _operation(
            "acknowledge", "Alertas", "Reconhece um alerta",
            f"Marca o alerta como reconhecido (repetir não muda nada). Sem corpo. {read_note}",
            {"200": _ok("O alerta reconhecido.", "Alerta")}, errors=("401", "403", "404"), parameters=[
                _meter_param(),
                {"name": "alerta", "in": "path", "required": True, "description": "Id do alerta.",
                 "schema": {"type": "string"}, "example": "3f2a9c1b7d4e"},
            ])},
        f"{meter}/comandos": {
            "get": _operation(
                "list_commands", "Comandos", "Comandos pendentes",
                f"Os comandos ainda não entregues ao agente. {read_note}",
                {"200": _ok("Os comandos pendentes.", "ListaDeComandos")}, errors=("401", "403", "404"),
                parameters=[_meter_param()]),
            "post": _operation(
                "queue_command", "Comandos", "Envia um comando ao medidor",
                "O cadastro muda na hora (estado, multiplicador, limite) e o agente recebe o comando na resposta "
                f"à sua próxima leitura. Ficam na fila os {commands.MAX_PENDING} mais recentes. {read_note}",
                {"202": _ok("Enfileirado.", "Comando")}, errors=("401", "403", "404") + body_errors,
                parameters=[_meter_param()],
                body=_json_body(_ref("NovoComando"), "O comando.", {
                    "pausar": ("Pausar o envio", {"comando": "pausar"}),
                    "limite": ("Novo limite do mês", {"comando": "limite", "valor": 300}),
                })),
        },
        f"{api}/tarifas": {
            "get": _operation(
                "list_tariffs", "Tarifas", "Lista as tarifas", "Com qualquer chave.",
                {"200": _ok("As tarifas.", "ListaDeTarifas")}, errors=("401",)),
            "post": _operation(
                "create_tariff", "Tarifas", "Cria uma tarifa",
                "Só a chave de administração. Um id que já existe é 409.",
                {"201": _ok("Criada.", "Tarifa")}, errors=("401", "403", "409") + body_errors,
                body=_json_body(_ref("NovaTarifa"), "A tarifa.", {"faixas": ("Tarifa social", NEW_TARIFF_EXAMPLE)})),
        },
        f"{api}/tarifas/{{id}}": {
            "get": _operation(
                "get_tariff", "Tarifas", "Uma tarifa", "Com qualquer chave.",
                {"200": _ok("A tarifa.", "Tarifa")}, errors=("401", "404"), parameters=[_tariff_param()]),
            "put": _operation(
                "put_tariff", "Tarifas", "Substitui uma tarifa",
                "Só a chave de administração. Corrigir um preço corrige as faturas: as de meses fechados são "
                "reemitidas.",
                {"200": _ok("A tarifa alterada.", "Tarifa")}, errors=("401", "403", "404") + body_errors,
                parameters=[_tariff_param()],
                body=_json_body(_ref("TarifaSubstituta"), "A tarifa inteira.",
                                {"faixas": ("Residencial com faixas", TARIFF_REPLACEMENT_EXAMPLE)})),
            "delete": _operation(
                "delete_tariff", "Tarifas", "Apaga uma tarifa",
                "Só a chave de administração. A tarifa `padrao` não pode ser apagada (409); medidores com uma "
                "tarifa apagada são cobrados pela padrão.",
                {"204": {"description": "Apagada."}}, errors=("401", "403", "404", "409"),
                parameters=[_tariff_param("tarifa-descartada")]),
        },
    }


def _tariff_param(example: str = EXAMPLE_TARIFF) -> dict[str, Any]:
    return {"name": "id", "in": "path", "required": True, "description": "Id da tarifa.",
            "schema": {"type": "string"}, "example": example}


def _other_paths(legacy: bool) -> dict[str, Any]:
    paths: dict[str, Any] = {"/metrics": {"get": _operation(
        "metrics_page", "Sistema", "Métricas para o Prometheus",
        "Requisições por rota e status, latência, leituras recebidas, armazenamento, medidores vistos e "
        "conexões abertas, no formato de texto do Prometheus (0.0.4). Aberto, sem chave.",
        {"200": {"description": "As métricas.", "content": {PROMETHEUS: {"schema": {"type": "string"}}}}},
        open_route=True)}}
    html = {"text/html": {"schema": {"type": "string"}}}
    page_text = ("Um navegador (Accept com `text/html`, sem `id`) recebe o painel: uma página HTML autocontida com "
                 "os medidores e a potência ao vivo. Aberto, sem chave; o painel pede a chave e a usa na API.")
    if not legacy:
        paths["/"] = {"get": _operation(
            "page", "Sistema", "Painel do navegador", page_text + " Sem pedir HTML, 404.",
            {"200": {"description": "O painel.", "content": html}}, errors=("404",), open_route=True)}
        return paths
    frozen = " Rota do 004, mantida sem mudança (formato, fechamento da conexão) para os medidores antigos."
    legacy_id = {"name": "id", "in": "path", "required": True, "description": "Id do medidor antigo (UUID no 004).",
                 "schema": {"type": "string", "pattern": meters.METER_ID.pattern},
                 "example": "5f0c8a52-3b1e-4d6f-9a57-2c1e8b7d4a10"}
    store_body = {"required": True, "description": "O JSON do medidor do 004, qualquer objeto. Sem Content-Length, "
                                                   "o corpo vai até o medidor fechar a conexão.",
                  "content": {JSON: {"schema": _ref("DadosLegados"), "example": {
                      "consumo_atual_kWh": 12.5, "consumo_total_kWh": 1834.2, "Valor_da_Fatura": 917.1,
                      "alerta": ""}}}}
    stored = {"200": _ok("Gravado; a conexão é fechada.", "LegadoRecebido")}
    # A meter of /api/v1 cannot be changed through the old routes.
    native = {"409": {"description": "O id é de um medidor da API /api/v1 (`medidor_nativo`).",
                      "content": _json_content(_ref("Erro"))}}
    by_id = {"type": "object", "additionalProperties": _ref("DadosLegados")}
    one = {"200": {"description": "`{\"<id>\": <o que ele enviou>}`; a conexão é fechada.",
                   "content": _json_content(by_id)}}
    # The browser page took over GET / for HTML (servidor/api/page.py); everything else there is still
    # 004's menu client, so the operation stays current and only its `id` parameter is deprecated.
    paths["/"] = {"get": _operation(
        "page", "Sistema", "Painel do navegador; medidores antigos do 004",
        page_text + " Qualquer outro pedido é o do cliente do 004: sem `id`, todos os medidores antigos como "
        "`{\"<id>\": {...}}`; com `id`, só esse (404 se não existe); a conexão é fechada após a resposta.",
        {"200": {"description": "O painel (HTML) ou os medidores antigos (JSON).",
                 "content": {**html, **_json_content(by_id)}}},
        errors=("404",), open_route=True, parameters=[
            {"name": "id", "in": "query", "required": False, "deprecated": True,
             "description": "Id do medidor antigo (cliente do 004).", "schema": {"type": "string"}}])}
    paths["/"]["get"]["tags"].append("Legado 004")
    # The routes below are all answered by Legacy.handle; the operationIds name its branches.
    paths["/{id}"] = {
        "get": _operation("legacy_get", "Legado 004", "Um medidor antigo", "O que ele enviou por último." + frozen,
                          one, errors=("404",), parameters=[legacy_id], open_route=True, deprecated=True),
        "post": _operation("legacy_store", "Legado 004", "O medidor antigo envia seus dados",
                           "Guarda o JSON enviado, substituindo o anterior." + frozen,
                           {**stored, **native}, errors=("400", "404", "413"), parameters=[legacy_id],
                           body=store_body, open_route=True, deprecated=True),
        "put": _operation("legacy_store_put", "Legado 004", "O medidor antigo envia seus dados (PUT)",
                          "O mesmo que POST." + frozen, {**stored, **native}, errors=("400", "404", "413"),
                          parameters=[legacy_id], body=store_body, open_route=True, deprecated=True),
        "delete": _operation("legacy_delete", "Legado 004", "Apaga um medidor antigo",
                             "Apaga o que o medidor antigo enviou." + frozen,
                             {"204": {"description": "Apagado; a conexão é fechada."}}, errors=("404",),
                             parameters=[legacy_id], open_route=True, deprecated=True),
    }
    return paths


def document(*, legacy: bool = True, version: str = "0.1.0") -> dict[str, Any]:
    """The OpenAPI 3.1 document. `legacy` describes the 004 routes (off with --sem-legado)."""
    tags = TAGS if legacy else [t for t in TAGS if t[0] != "Legado 004"]
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
        "paths": {**_api_paths(), **_other_paths(legacy)},
        "components": {
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer",
                "description": "A chave de administração, de registro, ou a de escrita ou leitura de um medidor."}},
            "schemas": _schemas(),
            "responses": _error_components(),
        },
    }


def get_openapi(call: Call) -> Response:
    from servidor.app import VERSION  # app imports this module; importing back at call time avoids a cycle

    return ok(document(legacy=call.app.legacy is not None, version=VERSION))
