"""What the document says about a meter's keys (/medidores/{id}/chaves), and their schemas."""
from __future__ import annotations

from typing import Any

from servidor.api.openapi.blocks import JSON, meter_param, obj, ok, operation, ref
from servidor.api.routes import METER

# Postman and schemathesis send these examples: a change of keys never touches a demo meter.
EXAMPLE = "medidor-descartado"
ROLES = ["escrita", "leitura"]


def key_operations() -> dict[str, dict[str, Any]]:
    role = {"name": "papel", "in": "path", "required": True, "description": "Qual chave: escrita ou leitura.",
            "schema": {"enum": ROLES}, "example": "leitura"}
    body = {"required": False, "description": "Quais chaves trocar; sem corpo, as duas.", "content": {JSON: {
        "schema": ref("TrocaDeChaves"),
        "examples": {"leitura": {"summary": "Só a chave de leitura", "value": {"papeis": ["leitura"]}}}}}}
    return {
        f"{METER}/chaves": {
            "get": operation("Medidores", "As chaves de um medidor",
                "O papel e o id público de cada chave do medidor (o segredo nunca: o servidor guarda só o "
                "hash). Só a chave de administração.",
                {"200": ok("As chaves.", "ChavesDoMedidor")}, errors=("401", "403", "404"),
                parameters=[meter_param()]),
            "post": operation("Medidores", "Troca as chaves de um medidor",
                "Faz chaves novas para os papéis pedidos e revoga as antigas no mesmo instante (uma chave "
                "vazada deixa de valer). As novas são mostradas só nesta resposta. Trocar a chave de escrita "
                "exige entregar a nova ao agente do medidor (`medidor --chave-escrita`). Só a chave de "
                "administração.",
                {"201": ok("Chaves novas; guarde-as.", "ChavesNovas")},
                errors=("401", "403", "404", "400", "415", "422"), parameters=[meter_param(EXAMPLE)], body=body),
        },
        f"{METER}/chaves/{{papel}}": {
            "delete": operation("Medidores", "Revoga uma chave de um medidor",
                "A chave deixa de valer na hora e nenhuma a substitui; `POST .../chaves` faz outra. "
                "Só a chave de administração.",
                {"204": {"description": "Revogada."}}, errors=("401", "403", "404", "422"),
                parameters=[meter_param(EXAMPLE), role]),
        },
    }


def key_schemas() -> dict[str, Any]:
    return {
        "TrocaDeChaves": obj({"papeis": {"type": "array", "minItems": 1, "uniqueItems": True,
                                         "items": {"enum": ROLES}}}),
        "ChavesDoMedidor": obj({
            "medidor": {"type": "string"},
            "chaves": {"type": "array", "items": obj({
                "papel": {"enum": ROLES},
                "id_chave": {"type": ["string", "null"], "description": "A parte pública da chave."},
                "criado_em": {"type": ["string", "null"], "format": "date-time"},
            }, ["papel", "id_chave", "criado_em"])},
        }, ["medidor", "chaves"]),
        "ChavesNovas": obj({
            "medidor": {"type": "string"},
            "chave_escrita": {"type": "string", "description": "Mostrada só agora."},
            "chave_leitura": {"type": "string", "description": "Mostrada só agora."},
            "aviso": {"type": "string"},
        }, ["medidor", "aviso"]),
    }
