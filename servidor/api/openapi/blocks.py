"""Building blocks of the OpenAPI document: schema helpers, error responses, operations and the
parameters several operations share, plus the examples the demo store answers with data."""
from __future__ import annotations

from typing import Any

from servidor.billing import plans as tariff_rules
from servidor.billing.calendar import MAX_EPOCH_DIGITS
from shared.http.limits import DEFAULT_LIMITS
from shared.models import METER_ID

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
# servidor.billing.plans checks ids with fullmatch; JSON Schema patterns search, so anchor it.
# Read from the regex itself so a change to the rule changes the document.
TARIFF_ID_PATTERN = f"^(?:{tariff_rules._SLUG_RE.pattern})$"

READING_EXAMPLE = {"seq": 42, "ts": EXAMPLE_TS, "energia_wh": 123456.5, "potencia_w": 850}
BATCH_EXAMPLE = {"leituras": [
    {"seq": 43, "ts": "2026-10-15T19:00:10-03:00", "energia_wh": 123458.9, "potencia_w": 862, "TPF": [127.1]},
    {"seq": 44, "ts": 1792101620000, "energia_wh": 123461.3, "potencia_w": 870, "FRE": 60.0},  # 19:00:20-03:00
]}
NEW_METER_EXAMPLE = {"id": "apto-101", "nome": "Apartamento 101", "fuso": "America/Sao_Paulo",
                     "limite_alerta_kwh": 200, "tarifa": "padrao"}
METER_FIELDS_EXAMPLE = {"nome": "Casa da família Silva", "limite_alerta_kwh": 250, "tarifa": EXAMPLE_TARIFF}
NEW_TARIFF_EXAMPLE = {"id": "social", "nome": "Tarifa social (faixas)", "versoes": [{
    "vigencia": "2026-01-01", "fonte": "exemplo", "taxa_fixa_mensal": 0,
    "energia": {"tipo": "faixas", "faixas": [{"ate_kwh": 30, "preco": 0.21}, {"ate_kwh": 100, "preco": 0.36},
                                            {"ate_kwh": 220, "preco": 0.54}, {"ate_kwh": None, "preco": 0.6}]},
    "tributos": {"icms_pct": 18, "pis_pct": 1.1, "cofins_pct": 5.1}}]}
TARIFF_VERSION_EXAMPLE = {
    "vigencia": "2026-07-01", "fonte": "reajuste anual (exemplo)", "taxa_fixa_mensal": 12.5,
    "energia": {"tipo": "unico", "preco": {"tusd": 0.4612, "te": 0.3551}},
    "tributos": {"icms_pct": 18, "pis_pct": 1.1, "cofins_pct": 5.1}, "cip": {"valor_fixo": 19.8}}
TARIFF_REPLACEMENT_EXAMPLE = {"nome": "Residencial B1 (faixas)", "versoes": [{
    "vigencia": "1970-01-01", "taxa_fixa_mensal": 12.5,
    "energia": {"tipo": "faixas", "faixas": [{"ate_kwh": 100, "preco": 0.62}, {"ate_kwh": None, "preco": 0.81}]},
    "tributos": {"icms_pct": 25, "calculo": "conjunto"}}]}


# --- schemas ------------------------------------------------------------------------------------

def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """The same schema that also admits null (OpenAPI 3.1 has no `nullable`)."""
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: dict[str, Any], required: tuple[str, ...] | list[str] = (), *,
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


def instant(description: str) -> dict[str, Any]:
    return {"type": "string", "format": "date-time", "description": description}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {JSON: {"schema": schema}}


def ok(description: str, schema_name: str) -> dict[str, Any]:
    return {"description": description, "content": json_content(ref(schema_name))}


# --- errors -------------------------------------------------------------------------------------

# status → (component name, description of what the server means by it here)
ERROR_RESPONSES: dict[str, tuple[str, str]] = {
    "400": ("JsonInvalido", "O corpo está vazio, não é JSON, tem um inteiro de mais de 20 dígitos, NaN, "
                            "aninhamento excessivo ou texto Unicode inválido (`json_invalido`); ou a consulta "
                            "é grande demais (`consulta_grande_demais`)."),
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
    "503": ("Indisponivel", "Conexões demais abertas (`servidor_sobrecarregado`), servidor sendo encerrado "
                            "(`servidor_encerrando`), armazenamento sem espaço ou indisponível "
                            "(`armazenamento_indisponivel`) ou consultas longas demais ao mesmo tempo "
                            "(`ocupado`); tente de novo após `Retry-After` segundos."),
}


def error_ref(status: str) -> dict[str, Any]:
    return {"$ref": f"#/components/responses/{ERROR_RESPONSES[status][0]}"}


def error_components() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, (name, description) in ERROR_RESPONSES.items():
        response: dict[str, Any] = {"description": description, "content": json_content(ref("Erro"))}
        if status == "401":
            response["headers"] = {"WWW-Authenticate": {
                "description": "O esquema exigido (RFC 9110 §11.6.1): `Bearer realm=\"monitor-energia\"`.",
                "schema": {"type": "string"}}}
        if status == "503":
            response["headers"] = {"Retry-After": {
                "description": "Segundos a esperar antes de tentar de novo.", "schema": {"type": "string"}}}
        out[name] = response
    return out


# --- operations and parameters ------------------------------------------------------------------

def operation(tag: str, summary: str, description: str, responses: dict[str, Any], *,
              errors: tuple[str, ...] = (), parameters: list[dict[str, Any]] | None = None,
              body: dict[str, Any] | None = None, open_route: bool = False,
              deprecated: bool = False) -> dict[str, Any]:
    """One operation (its operationId comes from the route's handler); every one may also answer
    500 and 503, so those are added here."""
    op: dict[str, Any] = {"tags": [tag], "summary": summary, "description": description}
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = body
    all_responses = dict(responses)
    for status in errors + ("500", "503"):
        all_responses[status] = error_ref(status)
    op["responses"] = dict(sorted(all_responses.items()))
    op["security"] = [] if open_route else [{"bearerAuth": []}]
    if deprecated:
        op["deprecated"] = True
    return op


def json_body(schema: dict[str, Any], description: str, examples: dict[str, Any]) -> dict[str, Any]:
    """A required JSON body; `examples` feed Postman and schemathesis' example phase."""
    return {"required": True, "description": description, "content": {JSON: {
        "schema": schema,
        "examples": {name: {"summary": summary, "value": value} for name, (summary, value) in examples.items()},
    }}}


def meter_param(example: str = EXAMPLE_METER) -> dict[str, Any]:
    return {"name": "id", "in": "path", "required": True, "description": "Id do medidor.",
            "schema": {"type": "string", "pattern": METER_ID.pattern}, "example": example}


def tariff_param(example: str = EXAMPLE_TARIFF) -> dict[str, Any]:
    return {"name": "id", "in": "path", "required": True, "description": "Id da tarifa.",
            "schema": {"type": "string"}, "example": example}


def query(name: str, schema: dict[str, Any], description: str, example: Any = None) -> dict[str, Any]:
    # The handlers read an empty value (`?limite=`) as an absent one, so empty is valid.
    param: dict[str, Any] = {"name": name, "in": "query", "required": False, "allowEmptyValue": True,
                             "description": description, "schema": schema}
    if example is not None:
        param["example"] = example
    return param


def instant_query(name: str, description: str, example: str | None = None) -> dict[str, Any]:
    return query(name, {"type": "string"}, description + (
        f" Milissegundos desde 1970 (até {MAX_EPOCH_DIGITS} dígitos), `AAAA-MM-DD` ou data e hora ISO 8601;"
        " de 1970 a 9998."), example)
