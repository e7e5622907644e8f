"""What the document says about Tesla Analyzer's central routes (/ws/v2/history/…) and the node
keys (/api/v1/nos/{no}/chave), and their schemas."""
from __future__ import annotations

from typing import Any

from servidor.api.openapi.blocks import obj, ok, operation
from servidor.api.routes import CENTRAL
from servidor.domain import central
from shared.contract import API_PREFIX
from shared.models import MEASUREMENT_CODES

# Postman and schemathesis send these examples: a node of its own, apart from the demo meters.
EXAMPLE_NODE = "no-exemplo"
FORM = "application/x-www-form-urlencoded"
TEXT = "text/plain"


def _path(name: str, description: str, example: str, pattern: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema,
            "example": example}


def central_operations() -> dict[str, dict[str, Any]]:
    node = _path("no", "Id do nó de aquisição (o `<node id>` do config.xml).", EXAMPLE_NODE,
                 f"^{central.NODE_ID.pattern}$")
    form = {"required": True, "description": "Um período gravado pelo nó.", "content": {FORM: {
        "schema": obj({
            "DATA_HORA": {"type": "string", "description": "`dd/mm/AAAA HH:MM:SS`, hora local do medidor.",
                          "examples": ["15/10/2026 19:00:00"]},
            "LECTURA": {"type": "string", "description": "JSON: cada código com a lista dos seus valores "
                                                         "(um por fase, ou um só), nas unidades da API.",
                        "examples": ['{"TPF": [230.1, 229.8, 231.0], "PAT": [1230.0]}']},
            "MODEL": {"type": "string", "examples": ["PM710"]},
        }, ["DATA_HORA", "LECTURA"], extra=True),
        "examples": {"periodo": {"summary": "Um período de 15 minutos", "value": {
            "DATA_HORA": "15/10/2026 19:00:00", "LECTURA": '{"TPF": [230.1, 229.8, 231.0], "PAT": [1230.0]}',
            "MODEL": "PM710"}}}}}}
    return {
        f"{API_PREFIX}/nos/{{no}}/chave": {"post": operation(
            "Tesla Analyzer", "Chave nova de um nó de aquisição",
            "Faz a chave do nó (a que ele manda em `history/save` e `history/load`) e revoga a anterior no "
            "mesmo instante. Mostrada só nesta resposta. Só a chave de administração.",
            {"201": ok("A chave do nó; guarde-a.", "ChaveDoNo")}, errors=("401", "403", "404"),
            parameters=[node])},
        f"{CENTRAL}/save/{{no}}/{{equip}}/": {"post": operation(
            "Tesla Analyzer", "Grava um período de um analisador (history/save)",
            "O `clientRest` do Tesla Analyzer: o período vira uma leitura do medidor `<no>-<equip>` (criado no "
            "primeiro período, com o modelo no nome), com `energia_wh` de `CEA` (ou, sem `CEA`, o contador "
            "anterior mais `PAT` integrada, marcada `estimada`). Responde `#Saved:<seq>` em texto; um período "
            "já gravado (mesmo medidor e instante) é 409 e não é gravado de novo; um formulário ilegível é 400 "
            "(o nó não deve reenviá-lo). Chave do nó ou de administração.",
            {"201": {"description": "Gravado: `#Saved:<seq>`.",
                     "content": {TEXT: {"schema": {"type": "string", "pattern": "^#Saved:[0-9]+$"}}}}},
            errors=("400", "401", "403", "404", "409", "413"),
            parameters=[node, _path("equip", "Id do analisador no nó (o seu endereço).", "1")], body=form)},
        f"{CENTRAL}/load/{{no}}/{{addr}}/{{var}}/{{de}}/{{ate}}/": {"get": operation(
            "Tesla Analyzer", "Lê os períodos de um analisador (history/load)",
            "Cada valor de cada leitura do medidor `<no>-<addr>` entre os dias `de` e `ate` (inclusive, no "
            "calendário do medidor): `variable` é o código, com o índice da fase (`TPF0`, `TPF1`…) nos "
            f"códigos por fase. `var`: `ALL`, um código ou um código com a fase. No máximo "
            f"{central.MAX_LOAD_DAYS} dias e {central.MAX_LECTURES} valores. Chave do nó, do medidor ou de "
            "administração.",
            {"200": ok("Os valores, em ordem de instante.", "ResultadoTesla")},
            errors=("400", "401", "403", "404"),
            parameters=[node, _path("addr", "Id do analisador no nó.", "1"),
                        _path("var", "ALL, um código ou um código com a fase (TPF0).", "ALL"),
                        _path("de", "Primeiro dia, dd-mm-AAAA.", "15-10-2026", r"^[0-9]{2}-[0-9]{2}-[0-9]{4}$"),
                        _path("ate", "Último dia, dd-mm-AAAA.", "15-10-2026", r"^[0-9]{2}-[0-9]{2}-[0-9]{4}$")])},
    }


def central_schemas() -> dict[str, Any]:
    return {
        "ChaveDoNo": obj({"no": {"type": "string"}, "chave": {"type": "string", "description": "Mostrada só agora."},
                          "aviso": {"type": "string"}}, ["no", "chave", "aviso"]),
        "ResultadoTesla": obj({"ResultSet": obj({"Lectures": {"type": "array", "items": obj({
            "dataHora": {"type": "string", "description": "dd/mm/AAAA HH:MM:SS, hora local do medidor."},
            "variable": {"type": "string", "examples": ["TPF0", "FRE"]},
            "descripcio": {"type": "string"},
            "valor": {"type": "number"},
            "unitats": {"enum": sorted(set(MEASUREMENT_CODES.values()))},
        }, ["dataHora", "variable", "descripcio", "valor", "unitats"])}}, ["Lectures"])}, ["ResultSet"]),
    }
