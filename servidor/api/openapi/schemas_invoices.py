"""Schemas of cycle invoices, their versions, and the tariff comparison (servidor.billing's JSON)."""
from __future__ import annotations

from typing import Any

from servidor.api.openapi.blocks import instant, nullable, obj, ref
from servidor.api.openapi.schemas_tariffs import DAY, MONTH_PATTERN
from servidor.billing.invoice import GROUPS
from servidor.billing.prices import POST_LABELS
from servidor.billing.tariff_flags import FLAGS

NUMBER = {"type": "number"}
BY_TARIFF = {"type": "object", "additionalProperties": NUMBER, "description": "Por id de tarifa."}


def _cycle() -> dict[str, Any]:
    return obj({
        "nome": {"type": "string", "pattern": MONTH_PATTERN, "description": "O mês em que a conta é emitida."},
        "rotulo": {"type": "string", "examples": ["março/2026"]},
        "primeiro_dia": DAY, "ultimo_dia": DAY, "dias": {"type": "integer", "minimum": 1},
        "dia_leitura": nullable({"type": "integer", "minimum": 1, "maximum": 28}),
    }, ["nome", "rotulo", "primeiro_dia", "ultimo_dia", "dias", "dia_leitura"])


def _invoice_fields() -> dict[str, Any]:
    line = obj({
        "grupo": {"enum": list(GROUPS)},
        "descricao": {"type": "string"},
        "quantidade": nullable(NUMBER), "unidade": nullable({"type": "string"}), "preco": nullable(NUMBER),
        "valor": {**NUMBER, "description": "Em reais, arredondado ao centavo."},
        "valor_formatado": {"type": "string", "examples": ["R$ 12,34"]},
        "calculo": {"type": "string", "description": "A conta que dá o valor, para conferir na calculadora.",
                    "examples": ["120,000 kWh × R$ 0,45210 = R$ 54,25"]},
        "posto": nullable({"enum": list(POST_LABELS)}), "vigencia": nullable(DAY),
    }, ["grupo", "descricao", "quantidade", "unidade", "preco", "valor", "valor_formatado", "calculo", "posto",
        "vigencia"])
    return {
        "medidor": {"type": "string"},
        "mes": {"type": "string", "pattern": MONTH_PATTERN, "description": "O nome do ciclo."},
        "tarifa": {"type": "string"}, "tarifa_nome": {"type": "string"},
        "modalidade": {"enum": ["convencional", "branca"]},
        "ciclo": _cycle(),
        "kwh_medido": NUMBER,
        "kwh_faturado": {**NUMBER, "description": "O medido, ou o mínimo da ligação quando maior."},
        "linhas": {"type": "array", "items": line, "description": "Na ordem da conta: energia, disponibilidade, "
                                                                  "bandeira, taxa fixa, tributos, CIP."},
        "subtotal": {**NUMBER, "description": "A soma das linhas tributadas."},
        "tributos": NUMBER,
        "total": {**NUMBER, "description": "A soma exata das linhas arredondadas."},
        "total_formatado": {"type": "string", "examples": ["R$ 1.234,56"]},
        "cobertura": {**NUMBER, "minimum": 0, "maximum": 1},
        "dias_com_dados": {"type": "integer", "minimum": 0},
        "bandeiras": {"type": "array", "items": obj({"mes": {"type": "string", "pattern": MONTH_PATTERN},
                                                     "bandeira": nullable({"enum": list(FLAGS)})},
                                                    ["mes", "bandeira"])},
        "feriados": {"type": "array", "items": obj({"dia": DAY, "nome": {"type": "string"}}, ["dia", "nome"])},
        "avisos": {"type": "array", "items": {"type": "string"}},
        "parcial": {"type": "boolean", "description": "O ciclo não terminou: o total ainda vai mudar."},
        "compensacao": {**obj({
            "injetado_kwh": NUMBER, "compensavel_kwh": {**NUMBER, "description": "Consumo acima do mínimo."},
            "compensado_no_ciclo_kwh": NUMBER, "compensado_de_creditos_kwh": NUMBER,
            "credito_gerado_kwh": NUMBER, "credito_expirado_kwh": NUMBER,
            "saldo_anterior_kwh": NUMBER, "saldo_kwh": NUMBER,
            "creditos": {"type": "array", "items": obj({
                "origem": {"type": "string", "pattern": MONTH_PATTERN}, "kwh": NUMBER,
                "valido_ate": {"type": "string", "pattern": MONTH_PATTERN}}, ["origem", "kwh", "valido_ate"])},
        }, ["injetado_kwh", "compensavel_kwh", "compensado_no_ciclo_kwh", "compensado_de_creditos_kwh",
            "credito_gerado_kwh", "credito_expirado_kwh", "saldo_anterior_kwh", "saldo_kwh", "creditos"]),
            "description": "Só para medidores que injetam energia (SCEE): o que foi compensado e os créditos "
                           "em kWh, válidos por 60 ciclos."},
        "saldo_creditos_kwh": {**NUMBER, "description": "Saldo de créditos em kWh depois deste ciclo."},
    }


# Only invoices of meters that inject energy have these.
OPTIONAL_FIELDS = ("compensacao", "saldo_creditos_kwh")


def invoice_schemas() -> dict[str, Any]:
    fields = _invoice_fields()
    invoice = obj({
        **fields,
        "situacao": {"enum": ["aberta", "fechada"]},
        "versao": {"type": "integer", "minimum": 1, "description": "Só em faturas fechadas: sobe quando dados "
                                                                   "atrasados, uma tarifa ou as bandeiras a mudam."},
        "emitida_em": instant("Só em faturas fechadas: a primeira emissão."),
        "reemitida_em": nullable(instant("Só em faturas fechadas: a emissão desta versão, se não é a primeira.")),
    }, [name for name in fields if name not in OPTIONAL_FIELDS] + ["situacao"])
    summary = obj({"versao": {"type": "integer", "minimum": 1}, "emitida_em": instant("Emissão desta versão."),
                   "tarifa": nullable({"type": "string"}), "kwh_medido": nullable(NUMBER), "total": nullable(NUMBER)},
                  ["versao", "emitida_em", "tarifa", "kwh_medido", "total"])
    return {
        "Fatura": invoice,
        "ListaDeFaturas": obj({"medidor": {"type": "string"}, "faturas": {"type": "array", "items": ref("Fatura")},
                               "sem_fatura": {"type": "string", "description": "Por que este medidor não tem fatura "
                                                                               "de energia (produção, exportação, "
                                                                               "água, gás)."}},
                              ["medidor", "faturas"]),
        "VersoesDeFatura": obj({"medidor": {"type": "string"}, "ciclo": _cycle(),
                                "versoes": {"type": "array", "items": summary, "description": "Da mais recente à "
                                                                                             "mais antiga."}},
                               ["medidor", "ciclo", "versoes"]),
        "VersaoDeFatura": obj({"medidor": {"type": "string"}, "ciclo": {"type": "string", "pattern": MONTH_PATTERN},
                               "versao": {"type": "integer", "minimum": 1}, "emitida_em": instant("Emissão."),
                               "fatura": {"type": "object", "description": "A fatura como foi emitida (veja Fatura; "
                                                                          "as emitidas antes dos ciclos têm `itens`)."}},
                              ["medidor", "ciclo", "versao", "emitida_em", "fatura"]),
        "DiferencasDeFatura": obj({
            "medidor": {"type": "string"}, "ciclo": {"type": "string"}, "de": summary, "para": summary,
            "diferenca_total": NUMBER,
            "linhas": {"type": "array", "description": "Só as linhas que mudaram, apareceram ou sumiram.",
                       "items": obj({"grupo": {"type": "string"}, "descricao": {"type": "string"},
                                     "de": nullable(NUMBER), "para": nullable(NUMBER), "diferenca": NUMBER},
                                    ["grupo", "descricao", "de", "para", "diferenca"])},
        }, ["medidor", "ciclo", "de", "para", "diferenca_total", "linhas"]),
        "ComparacaoDeTarifas": _comparison(),
    }


def _comparison() -> dict[str, Any]:
    posts = {"type": "object", "additionalProperties": nullable({"enum": list(POST_LABELS)}),
             "description": "O posto de cada tarifa nesta hora num dia útil (null: preço único)."}
    return obj({
        "medidor": {"type": "string"},
        "ligacao": nullable({"enum": ["monofasica", "bifasica", "trifasica"]}),
        "dia_leitura": nullable({"type": "integer"}),
        "ciclos_pedidos": {"type": "integer", "minimum": 1},
        "historico_curto": {"type": "boolean", "description": "Nenhum ciclo tem leituras suficientes para comparar."},
        "tarifas": {"type": "array", "items": obj({"id": {"type": "string"}, "nome": {"type": "string"},
                                                   "modalidade": {"enum": ["convencional", "branca"]}},
                                                  ["id", "nome", "modalidade"])},
        "referencia": {"type": "string", "description": "A tarifa do medidor: as diferenças são contra ela."},
        "ciclos": {"type": "array", "items": obj({"ciclo": _cycle(), "kwh": NUMBER, "cobertura": NUMBER,
                                                  "completo": {"type": "boolean"}, "totais": BY_TARIFF},
                                                 ["ciclo", "kwh", "cobertura", "completo", "totais"])},
        "ciclos_completos": {"type": "integer", "minimum": 0},
        "totais": BY_TARIFF, "diferencas": BY_TARIFF,
        "diferencas_outros": {**BY_TARIFF, "description": "A parte da diferença que as horas não explicam "
                                                          "(mínimo, taxa fixa, arredondamento)."},
        "horas": {"type": "array", "maxItems": 24, "items": obj({
            "hora": {"type": "integer", "minimum": 0, "maximum": 23},
            "kwh_dias_uteis": NUMBER, "kwh_outros_dias": NUMBER, "postos": posts, "custos": BY_TARIFF,
            "diferencas": BY_TARIFF}, ["hora", "kwh_dias_uteis", "kwh_outros_dias", "postos", "custos", "diferencas"])},
        "mais_barata": nullable({"type": "string"}),
        "conclusiva": {"type": "boolean"},
        "conclusao": {"type": "string", "examples": ["Tarifa Branca B1 (exemplo) compensa: R$ 84,10 a menos que "
                                                     "Convencional B1 (exemplo) em 12 ciclo(s)"]},
        "avisos": {"type": "array", "items": {"type": "string"}},
    }, ["medidor", "ligacao", "dia_leitura", "ciclos_pedidos", "historico_curto", "tarifas", "referencia", "ciclos",
        "ciclos_completos", "totais", "diferencas", "diferencas_outros", "horas", "mais_barata", "conclusiva",
        "conclusao", "avisos"])
