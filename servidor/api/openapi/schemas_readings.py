"""Schemas of readings, alerts and commands, with every bound read from the code that enforces it."""
from __future__ import annotations

from typing import Any

from servidor.api.openapi.blocks import instant, nullable, obj, ref
from servidor.domain import alerts, commands
from servidor.domain.alert_rules import LIMITE_EXCEDIDO, PROJECAO_LIMITE, REINICIO_CONTADOR, SILENCIO
from servidor.domain.history import LIVE_BATCH
from shared import models
from shared.contract import MAX_BATCH


def measurement_schemas(per_code: dict[str, Any]) -> dict[str, Any]:
    return {code: {**per_code, "description": f"Medida {code}" + (f" ({unit})." if unit else " (adimensional).")}
            for code, unit in models.MEASUREMENT_CODES.items()}


def reading_schemas() -> dict[str, Any]:
    number_or_list = {"anyOf": [
        {"type": "number"},
        {"type": "array", "items": {"type": "number"}, "minItems": 1, "maxItems": models.MAX_VALUES_PER_CODE},
    ]}
    reading_in = obj({
        "seq": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1,
                "description": "Número de sequência escolhido pelo medidor; um seq repetido é confirmado "
                               "como duplicado e não é gravado de novo."},
        "ts": {"description": "Instante da leitura: ISO 8601 com fuso (Z ou ±HH:MM) ou milissegundos desde "
                              "1970. Não antes de 2000-01-01 nem mais de "
                              f"{models.MAX_FUTURE_SKEW_MS // 60000} minutos à frente do relógio do servidor.",
               "anyOf": [{"type": "string", "format": "date-time"},
                         {"type": "integer", "minimum": models.EARLIEST_TS_MS, "maximum": 2**53 - 1}]},
        "energia_wh": {"type": "number", "minimum": 0, "maximum": models.MAX_COUNTER_WH,
                       "description": "Contador de energia acumulado, em Wh."},
        "potencia_w": {"anyOf": [{"type": "number", "minimum": -models.MAX_POWER_W, "maximum": models.MAX_POWER_W},
                                 {"type": "null"}], "description": "Potência ativa no instante, em W."},
        "estimada": {"type": "boolean", "default": False,
                     "description": "O contador foi integrado da potência, não lido do aparelho."},
        **measurement_schemas(number_or_list),
    }, ["seq", "ts", "energia_wh"], description="Uma leitura. Campos fora desta lista são recusados.")
    reading_out = obj({
        "seq": {"type": "integer", "minimum": 0},
        "ts": instant("Instante da leitura no fuso do medidor."),
        "energia_wh": {"type": "number", "minimum": 0},
        "potencia_w": {"type": "number"},
        "estimada": {"const": True, "description": "Presente só quando a leitura foi estimada."},
        "reinicio": {"const": True, "description": "O contador voltou abaixo da leitura anterior (troca ou "
                                                   "reinício do medidor)."},
        **measurement_schemas(number_or_list),
    }, ["seq", "ts", "energia_wh"])
    return {
        "Leitura": reading_in,
        "LoteDeLeituras": obj({
            "leituras": {"type": "array", "items": ref("Leitura"), "maxItems": MAX_BATCH},
        }, ["leituras"], extra=True, description=(
            f"Até {MAX_BATCH} leituras. As válidas são gravadas mesmo que outras sejam "
            "recusadas; as recusadas voltam em `rejeitadas`.")),
        "ResultadoDoEnvio": obj({
            "aceitas": {"type": "integer", "minimum": 0},
            "duplicadas": {"type": "integer", "minimum": 0, "description": "Já gravadas antes (mesmo seq)."},
            "ultimo_seq": {"type": ["integer", "null"], "description": "Maior seq gravado deste medidor."},
            "comandos": {"type": "array", "items": ref("Comando"),
                         "description": "Comandos pendentes, entregues agora e retirados da fila."},
            "rejeitadas": {"type": "array", "items": obj({
                "indice": {"type": "integer", "minimum": 0},
                "seq": {"type": ["integer", "null"], "description": "O seq enviado, se era um."},
                "motivo": {"type": "string"}}, ["indice", "seq", "motivo"]),
                "description": "Só quando parte do lote foi recusada."},
        }, ["aceitas", "duplicadas", "ultimo_seq", "comandos"]),
        "LeituraGuardada": reading_out,
        "PaginaDeLeituras": obj({
            "medidor": {"type": "string"},
            "leituras": {"type": "array", "items": ref("LeituraGuardada")},
            "total": {"type": "integer", "minimum": 0, "description": "Leituras nesta página."},
            "proxima_pagina": {"type": "string", "description": "Caminho da página seguinte, se houver."},
            "proximo_de": instant("Instante da primeira leitura da página seguinte."),
        }, ["medidor", "leituras", "total"]),
        "LeiturasAoVivo": obj({
            "medidor": {"type": "string"},
            "leituras": {"type": "array", "items": ref("LeituraGuardada"), "minItems": 1, "maxItems": LIVE_BATCH},
            "ultimo_seq": {"type": "integer", "description": "Use como `apos` na próxima espera."},
        }, ["medidor", "leituras", "ultimo_seq"]),
    }


def alert_and_command_schemas() -> dict[str, Any]:
    command = obj({
        "id": {"type": "string"},
        "medidor": {"type": "string"},
        "comando": {"enum": list(commands.VERBS)},
        "valor": {"type": ["number", "null"]},
        "criado_em": instant("Quando o comando foi enfileirado."),
    }, ["id", "medidor", "comando", "valor", "criado_em"])
    with_value = [{"type": "object", "required": ["comando", "valor"], "properties": {
        "comando": {"const": verb},
        "valor": {"type": "number", "maximum": high, **({"exclusiveMinimum": 0} if low == 0 else {"minimum": low})},
    }} for verb, (low, high) in commands.NEEDS_VALUE.items()]
    without_value = [v for v in commands.VERBS if v not in commands.NEEDS_VALUE]
    new_command = {
        "type": "object",
        "description": f"`{'`, `'.join(without_value)}` sem valor; `{'` e `'.join(commands.NEEDS_VALUE)}` com um "
                       "valor (o novo multiplicador, ou o novo limite do mês em kWh) dentro dos limites do "
                       "cadastro do medidor. Outros campos são ignorados.",
        "oneOf": [{"type": "object", "required": ["comando"],
                   "properties": {"comando": {"enum": without_value}, "valor": {"type": "null"}}}, *with_value],
    }
    alert = obj({
        "id": {"type": "string"},
        "medidor": {"type": "string"},
        "tipo": {"enum": [LIMITE_EXCEDIDO, PROJECAO_LIMITE, SILENCIO, REINICIO_CONTADOR, *alerts.AGENT_ALERT_TYPES]},
        "chave": {"type": "string", "description": "A causa: um tipo e uma causa têm no máximo um alerta aberto."},
        "mensagem": {"type": "string", "description": "O que a última ocorrência disse."},
        "criado_em": instant("Quando o alerta foi criado."),
        "reconhecido": {"type": "boolean"},
        "reconhecido_em": nullable(instant("Quando foi reconhecido.")),
        "ocorrencias": {"type": "integer", "minimum": 1,
                        "description": "Quantas vezes a causa se repetiu enquanto o alerta estava aberto."},
        "ultima_em": instant("A última ocorrência."),
        "resolvido_em": nullable(instant("Alertas de silêncio: quando o medidor voltou a enviar e o alerta se "
                                         "fechou sozinho (`reconhecido` passa a true).")),
    }, ["id", "medidor", "tipo", "chave", "mensagem", "criado_em", "reconhecido", "reconhecido_em",
        "ocorrencias", "ultima_em"])
    new_alert = obj({
        "tipo": {"enum": list(alerts.AGENT_ALERT_TYPES)},
        "mensagem": {"type": "string", "minLength": 1, "maxLength": alerts.MAX_MESSAGE, "pattern": r"\S",
                     "description": "Texto não vazio."},
        "chave": {"type": "string", "minLength": 1, "maxLength": alerts.MAX_CAUSE, "pattern": r"\S",
                  "description": "A causa da falha (padrão: a mensagem): repetida com o alerta aberto, conta "
                                 "em `ocorrencias` em vez de criar outro."},
    }, ["tipo", "mensagem"], extra=True, description="Um alerta levantado pelo agente. Outros campos são ignorados.")
    return {
        "Alerta": alert,
        "NovoAlerta": new_alert,
        "AlertaDuplicado": obj({"duplicado": {"const": True},
                                "ocorrencias": {"type": "integer", "minimum": 2}}, ["duplicado", "ocorrencias"]),
        "ListaDeAlertas": obj({"medidor": {"type": "string"},
                               "alertas": {"type": "array", "items": ref("Alerta")}}, ["medidor", "alertas"]),
        "Comando": command,
        "NovoComando": new_command,
        "ListaDeComandos": obj({"medidor": {"type": "string"},
                                "comandos": {"type": "array", "items": ref("Comando")}}, ["medidor", "comandos"]),
    }
