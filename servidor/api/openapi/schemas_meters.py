"""Schemas of meters (records, state summaries, creation) and of system 004's meters."""
from __future__ import annotations

from typing import Any

from servidor.api.openapi.blocks import instant, nullable, obj, ref
from servidor.billing import MINIMUM_KWH
from servidor.billing.cycles import MAX_READING_DAY
from servidor.domain import meters
from servidor.domain.categories import MEASURE
from shared.models import MAX_POWER_W
from shared.models import METER_ID


BILLING_FIELDS = {
    "dia_leitura": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": MAX_READING_DAY}, {"type": "null"}],
                    "default": None, "description": "Dia da leitura do medidor na conta de luz: as faturas vão "
                                                    "desse dia ao anterior no mês seguinte; null: mês civil."},
    "ligacao": {"enum": [*MINIMUM_KWH, None], "default": None,
                "description": "Tipo de ligação, para o custo de disponibilidade (mínimo de 30, 50 ou 100 kWh); "
                               "null: sem mínimo."},
}

BLIP_FIELDS = {
    "id_blip": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": meters.MAX_BLIP_ID}, {"type": "null"}],
                "default": None, "description": "Número do medidor de pulsos nas rotas do blipserver (`/blip/1`), "
                                                "único; dado nos primeiros pulsos se for null. Num PUT, omitido "
                                                "mantém o atual; null o retira."},
    "publico": {"type": "boolean", "default": False,
                "description": "As rotas do blipserver leem este medidor sem chave."},
    "pulsos_por_kwh": {"type": "number", "exclusiveMinimum": 0, "maximum": meters.MAX_PULSES_PER_KWH,
                       "default": 1000.0, "description": "Pulsos do LED por kWh (potência e Wh das rotas do "
                                                         "blipserver)."},
}

FLOW_FIELDS = {
    "site": {"anyOf": [{"type": "string", "pattern": METER_ID.pattern}, {"type": "null"}], "default": None,
             "description": "Id do site (`/api/v1/sites`) a que o medidor pertence; null: nenhum."},
    "potencia_maxima_w": {"anyOf": [{"type": "number", "exclusiveMinimum": 0, "maximum": MAX_POWER_W},
                                    {"type": "null"}], "default": None,
                          "description": "A maior potência possível do medidor: um salto do contador que exigiria "
                                         "mais é reinício ou falha, não energia; null: o padrão do servidor."},
}


def meter_schemas() -> dict[str, Any]:
    editable = {
        "nome": {"type": "string", "minLength": 1, "maxLength": meters.MAX_NAME, "pattern": r"\S",
                 "description": "Nome para pessoas (padrão: o id)."},
        "categoria": {"enum": list(meters.CATEGORIES), "default": "gridImport"},
        "fuso": {"type": "string", "description": "Fuso IANA do calendário do medidor (padrão: o do servidor).",
                 "examples": ["America/Sao_Paulo"]},
        "limite_alerta_kwh": {"anyOf": [{"type": "number", "minimum": meters.MIN_LIMIT_KWH,
                                         "maximum": meters.MAX_LIMIT_KWH}, {"type": "null"}],
                              "default": 500.0, "description": "Limite mensal em kWh para alertas; null desliga."},
        "multiplicador": {"type": "number", "exclusiveMinimum": 0, "maximum": meters.MAX_MULTIPLIER, "default": 1.0},
        "tarifa": {"type": "string", "minLength": 1, "default": "padrao",
                   "description": "Id de uma tarifa existente."},
        "estado": {"enum": list(meters.STATES), "default": "ativo"},
        "silencio_s": {"type": "integer", "minimum": meters.MIN_SILENCE_S, "maximum": meters.MAX_SILENCE_S,
                       "default": meters.DEFAULT_SILENCE_S,
                       "description": "Segundos sem leitura até o alerta de silêncio."},
        "webhook_url": {"anyOf": [{"type": "string", "pattern": "^https?://[^\\s/?#]+[^\\s]*$",
                                   "maxLength": meters.MAX_WEBHOOK_URL}, {"type": "null"}],
                        "default": None, "description": "Cada alerta que abre é enviado (POST, o alerta em JSON) a "
                                                        "esta URL, com novas tentativas se ela falhar; null desliga."},
        "local": {"anyOf": [{"type": "string", "maxLength": meters.MAX_NAME}, {"type": "null"}], "default": None,
                  "description": "Onde o medidor está, para pessoas (o `location` do nó do Tesla Analyzer)."},
        "controle": {"anyOf": [{"type": "string", "pattern": meters.CONTROL_ADDRESS.pattern}, {"type": "null"}],
                     "default": None, "examples": ["127.0.0.1:7010"],
                     "description": "A porta de controle do agente do medidor (`medidor --porta-controle`), que o "
                                    "agente informa sozinho; o app de terminal a usa na aba Controle."},
        **BILLING_FIELDS,
        **BLIP_FIELDS,
        **FLOW_FIELDS,
    }
    # A client that PUTs back what it GOT may include these; the handler ignores them.
    echoed = {name: {"description": "Ignorado (aceito para que o corpo de um GET possa ser reenviado)."}
              for name in sorted(meters.ECHOED)}
    new_meter = obj({
        "id": {"type": "string", "pattern": METER_ID.pattern,
               "description": "Letras, dígitos, '.', '_' ou '-', até 64, começando por letra ou dígito."},
        **editable, **echoed,
    }, ["id"], description="Um medidor novo. Campos fora desta lista são recusados.")
    meter_fields = obj({**editable, **echoed}, description=(
        "Os campos editáveis; os omitidos voltam ao padrão. Campos fora desta lista (inclusive `id`) "
        "são recusados."))
    meter_properties = {
        "id": {"type": "string", "pattern": METER_ID.pattern},
        "nome": {"type": "string"},
        "categoria": {"enum": list(meters.CATEGORIES)},
        "fuso": {"type": "string"},
        "limite_alerta_kwh": {"type": ["number", "null"]},
        "multiplicador": {"type": "number"},
        "tarifa": {"type": "string"},
        "estado": {"enum": list(meters.STATES)},
        "silencio_s": {"type": "integer", "minimum": meters.MIN_SILENCE_S},
        "webhook_url": {"type": ["string", "null"]},
        "controle": {"type": ["string", "null"]},
        "local": {"type": ["string", "null"]},
        **BILLING_FIELDS,
        **BLIP_FIELDS,
        **FLOW_FIELDS,
        "criado_em": instant("Quando o medidor foi criado."),
        "atualizado_em": instant("Última alteração do cadastro."),
        "ultima_leitura": nullable(obj({
            "seq": {"type": "integer"}, "ts": instant("Instante da leitura."),
            "energia_wh": {"type": "number"}, "potencia_w": {"type": ["number", "null"]},
        }, ["seq", "ts", "energia_wh", "potencia_w"])),
        "resumo": ref("Resumo"),
    }
    meter_required = list(meter_properties)
    detail_properties = {
        **meter_properties,
        "alertas_ativos": {"type": "array", "items": ref("Alerta"), "description": "Alertas não reconhecidos."},
        "comandos_pendentes": {"type": "array", "items": ref("Comando")},
    }
    created_properties = {
        **detail_properties,
        "chave_escrita": {"type": "string", "description": "Chave do agente do medidor; mostrada só agora."},
        "chave_leitura": {"type": "string", "description": "Chave do dono do medidor; mostrada só agora."},
        "aviso": {"type": "string"},
    }
    summary = obj({
        "potencia_w": {"type": ["number", "null"],
                       "description": "Potência agora; null sem leitura nos últimos 15 minutos."},
        "kwh_hoje": {"type": "number"},
        "kwh_mes": {"type": "number"},
        "cobertura_mes": {"type": "number", "minimum": 0, "maximum": 1,
                          "description": "Fração do mês até agora coberta por leituras."},
        "fatura_projetada": {**nullable(obj({"kwh": {"type": "number"}, "total": {"type": "number"},
                                             "total_formatado": {"type": "string"}}, ["kwh", "total", "total_formatado"])),
                             "description": "A fatura do ciclo atual se o ritmo até agora se mantiver; null para "
                                            "um medidor sem fatura de energia (produção, exportação, água, gás)."},
        "limite_uso_pct": {"type": ["number", "null"],
                           "description": "kWh do mês em % do limite; null sem limite ou para quem não consome."},
        "alertas_ativos": {"type": "integer", "minimum": 0},
        "leituras": {"type": "integer", "minimum": 0},
        "grandeza": {"enum": sorted(set(MEASURE.values())),
                     "description": "O que `kwh_hoje` e `kwh_mes` medem: consumo, produção, exportação ou volume."},
        "unidade": {"enum": ["kWh", "m³"]},
        "importado_kwh_mes": {"type": "number", "description": "Só medidores que exportam: energia tomada da rede."},
        "exportado_kwh_mes": {"type": "number", "description": "Só medidores que exportam: energia enviada à rede."},
        "liquido_kwh_mes": {"type": "number", "description": "Só medidores que exportam: importado − exportado."},
        "saldo_creditos_kwh": {"type": "number", "description": "Só medidores faturados que injetam energia: "
                                                                "créditos de energia (kWh) depois do ciclo atual."},
    }, ["potencia_w", "kwh_hoje", "kwh_mes", "cobertura_mes", "fatura_projetada", "limite_uso_pct",
        "alertas_ativos", "leituras"])
    # 004's payloads are free JSON; these are read from them as they came.
    legacy_total = obj({
        "id": {"type": "string"}, "legado": {"const": True},
        "consumo_atual_kwh": {}, "consumo_total_kwh": {}, "valor_fatura": {}, "alerta": {},
        "atualizado_em": instant("Quando o medidor antigo enviou pela última vez."),
    }, ["id", "legado", "consumo_atual_kwh", "consumo_total_kwh", "valor_fatura", "alerta", "atualizado_em"],
        description="Um medidor do 004, com os totais lidos do que ele enviou.")
    return {
        "Resumo": summary,
        "Medidor": obj(meter_properties, meter_required),
        "MedidorDetalhado": obj(detail_properties, meter_required + ["alertas_ativos", "comandos_pendentes"]),
        "MedidorCriado": obj(created_properties, list(created_properties)),
        "NovoMedidor": new_meter,
        "CamposDoMedidor": meter_fields,
        "MedidorLegadoResumo": legacy_total,
        "ListaDeMedidores": obj({
            "medidores": {"type": "array", "items": ref("Medidor")},
            "legado": {"type": "array", "items": ref("MedidorLegadoResumo"),
                       "description": "Só para a chave de administração, com as rotas do 004 ligadas."},
        }, ["medidores"]),
        "DadosLegados": {"type": "object", "description": "O JSON que o medidor do 004 enviou, como veio."},
        "LegadoRecebido": obj({"id": {"type": "string"}, "recebido_em": instant("Quando foi gravado.")},
                              ["id", "recebido_em"]),
    }
