"""Schemas of tariffs, invoices and consumption, with every bound read from the billing rules."""
from __future__ import annotations

from typing import Any

from servidor.api.openapi.blocks import TARIFF_ID_PATTERN, instant, nullable, obj, ref
from servidor.billing import tariffs as tariff_rules
from servidor.billing.calendar import INTERVALS, MAX_BUCKETS
from shared.money import MAX_DECIMALS


def _amount(maximum: Any, description: str, **bounds: Any) -> dict[str, Any]:
    """A JSON number within the rule's bounds, or a numeric text the server parses itself."""
    number = {"type": "number", "minimum": 0, **bounds}
    if maximum is not None:
        number["maximum"] = int(maximum)
    return {"anyOf": [number, {"type": "string"}], "description": description}


def tariff_schemas() -> dict[str, Any]:
    tier_in = obj({
        "ate_kwh": {"anyOf": [{"type": "number", "exclusiveMinimum": 0, "maximum": int(tariff_rules.MAX_FAIXA_KWH)},
                              {"type": "string"}, {"type": "null"}],
                    "description": "Limite superior da faixa em kWh do mês; null na última."},
        "preco_kwh": _amount(tariff_rules.MAX_PRECO_KWH, "R$ por kWh nesta faixa."),
    }, ["preco_kwh"])
    tariff_fields = {
        "nome": {"type": "string", "minLength": 1, "maxLength": tariff_rules.MAX_NOME, "pattern": r"\S"},
        "preco_kwh": {**_amount(tariff_rules.MAX_PRECO_KWH, "R$ por kWh (sem faixas)."), "default": 0.5},
        "taxa_fixa_mensal": {**_amount(tariff_rules.MAX_TAXA_FIXA, "R$ por mês."), "default": 0},
        "impostos_pct": {**_amount(None, "Alíquota somada dos impostos \"por dentro\" (ICMS, PIS/COFINS), "
                                         "menor que 100.", exclusiveMaximum=100), "default": 0},
        "faixas": {"type": "array", "items": tier_in, "maxItems": tariff_rules.MAX_FAIXAS,
                   "description": "Faixas de consumo com limites crescentes; só a última sem limite. "
                                  "Quando presentes, substituem preco_kwh."},
        "moeda": {"const": "BRL", "default": "BRL"},
    }
    tariff_note = (f" Valores podem ser números ou textos numéricos, com até {MAX_DECIMALS} casas "
                   "decimais. Campos fora desta lista são recusados.")
    return {
        "Tarifa": obj({
            "id": {"type": "string", "pattern": TARIFF_ID_PATTERN},
            "nome": {"type": "string"},
            "preco_kwh": {"type": "number", "minimum": 0},
            "taxa_fixa_mensal": {"type": "number", "minimum": 0},
            "impostos_pct": {"type": "number", "minimum": 0, "exclusiveMaximum": 100},
            "faixas": {"type": "array", "items": obj({"ate_kwh": {"type": ["number", "null"]},
                                                      "preco_kwh": {"type": "number"}}, ["ate_kwh", "preco_kwh"])},
            "moeda": {"const": "BRL"},
        }, ["id", "nome", "preco_kwh", "taxa_fixa_mensal", "impostos_pct", "faixas", "moeda"]),
        "NovaTarifa": obj({"id": {"type": "string", "pattern": TARIFF_ID_PATTERN}, **tariff_fields},
                          ["id", "nome"], description="Uma tarifa nova." + tariff_note),
        "TarifaSubstituta": obj({
            "id": {"type": ["string", "null"], "description": "Se presente, igual ao id do caminho."},
            **tariff_fields,
        }, ["nome"], description="A tarifa inteira; os campos omitidos voltam ao padrão." + tariff_note),
        "ListaDeTarifas": obj({"tarifas": {"type": "array", "items": ref("Tarifa")}}, ["tarifas"]),
    }


def invoice_schemas() -> dict[str, Any]:
    invoice = obj({
        "medidor": {"type": "string"},
        "mes": {"type": "string", "pattern": r"^\d{4}-\d{2}$"},
        "tarifa": {"type": "string"},
        "kwh": {"type": "number", "minimum": 0},
        "itens": {"type": "array", "items": obj({
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
        "emitida_em": instant("Só em faturas fechadas."),
        "reemitida_em": nullable(instant("Só em faturas fechadas: a última reemissão.")),
    }, ["medidor", "mes", "tarifa", "kwh", "itens", "subtotal", "impostos", "total", "total_formatado",
        "cobertura", "parcial", "situacao"])
    return {
        "Consumo": obj({
            "medidor": {"type": "string"},
            "intervalo": {"enum": list(INTERVALS)},
            "fuso": {"type": "string"},
            "unidade": {"const": "kWh"},
            "total_kwh": {"type": "number"},
            "consumo": {"type": "array", "maxItems": MAX_BUCKETS, "items": obj({
                "rotulo": {"type": "string", "description": "Hora `AAAA-MM-DDTHH:MM±HH:MM`, dia `AAAA-MM-DD` "
                                                            "ou mês `AAAA-MM`, no calendário local."},
                "inicio": instant("Início do período."),
                "fim": instant("Fim do período (exclusivo)."),
                "kwh": {"type": "number"},
                "cobertura": {"type": "number", "minimum": 0, "maximum": 1,
                              "description": "Fração do período coberta por leituras."},
                "parcial": {"const": True, "description": "O período contém o instante atual."},
            }, ["rotulo", "inicio", "fim", "kwh", "cobertura"])},
        }, ["medidor", "intervalo", "fuso", "unidade", "total_kwh", "consumo"]),
        "Fatura": invoice,
        "ListaDeFaturas": obj({"medidor": {"type": "string"},
                               "faturas": {"type": "array", "items": ref("Fatura")}}, ["medidor", "faturas"]),
    }
