"""Schemas of versioned tariffs and the bandeira table, with bounds read from the billing rules.

Request bodies take numbers as JSON numbers or numeric texts (the server parses both) and refuse
unknown fields, as servidor.billing.tariff_json does; answers are closed so that a field added to
them must be documented here first."""
from __future__ import annotations

from typing import Any

from servidor.api.openapi.blocks import TARIFF_ID_PATTERN, nullable, obj, ref
from servidor.billing import plans, prices
from servidor.billing.tariff_flags import FLAGS
from shared.money import MAX_DECIMALS

DAY = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
MONTH_PATTERN = r"^\d{4}-\d{2}$"
_NUMBER_IN = {"anyOf": [{"type": "number"}, {"type": "string"}]}
_NOTE = (f" Valores podem ser números ou textos numéricos, com até {MAX_DECIMALS} casas decimais; campos fora "
         "desta lista são recusados; um erro diz o caminho do campo em `erro.campo`.")


def _num(description: str) -> dict[str, Any]:
    return {**_NUMBER_IN, "description": description}


def _price_in() -> dict[str, Any]:
    # A part given as null counts as absent, as the server reads it.
    part = {"anyOf": [*_NUMBER_IN["anyOf"], {"type": "null"}]}
    return {"anyOf": [{"type": "number"}, {"type": "string"}, obj({"kwh": part, "tusd": part, "te": part})],
            "description": "R$/kWh: um número, `{\"kwh\": …}` ou as parcelas `{\"tusd\": …, \"te\": …}`."}


def _price_out() -> dict[str, Any]:
    return {"anyOf": [obj({"kwh": {"type": "number"}}, ["kwh"]),
                      obj({"tusd": {"type": "number"}, "te": {"type": "number"}}, ["tusd", "te"])]}


def _energy(price: dict[str, Any], answer: bool) -> dict[str, Any]:
    window = obj({"posto": {"enum": [prices.PONTA, prices.INTERMEDIARIO]},
                  "inicio": {"type": "string", "examples": ["18:00"]}, "fim": {"type": "string", "examples": ["21:00"]},
                  "dias": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 6},
                           "description": "0 = segunda … 6 = domingo; padrão: segunda a sexta."}},
                 ["posto", "inicio", "fim"] + (["dias"] if answer else []))
    tier = obj({"ate_kwh": nullable({"type": "number"}) if answer else {"anyOf": [*_NUMBER_IN["anyOf"], {"type": "null"}]},
                "preco": price}, ["ate_kwh", "preco"] if answer else ["preco"])
    post_price = nullable(price)
    return {"oneOf": [
        obj({"tipo": {"const": "unico"}, "preco": price}, ["tipo", "preco"]),
        obj({"tipo": {"const": "faixas"}, "faixas": {"type": "array", "items": tier, "maxItems": prices.MAX_TIERS}},
            ["tipo", "faixas"]),
        obj({"tipo": {"const": "postos"}, "fora_ponta": price, "ponta": post_price, "intermediario": post_price,
             "janelas": {"type": "array", "items": window, "maxItems": prices.MAX_WINDOWS}},
            ["tipo", "fora_ponta"] + (["ponta", "intermediario", "janelas"] if answer else [])),
    ], "description": "Preço único, faixas crescentes (a última sem limite) ou postos horários (Tarifa Branca: "
                      "janelas de ponta e intermediário por dia da semana; o resto, feriados e fins de semana "
                      "sem janela, fora de ponta)."}


def _version(answer: bool) -> dict[str, Any]:
    number = {"type": "number"} if answer else _NUMBER_IN
    price = _price_out() if answer else _price_in()
    taxes = obj({"icms_pct": number, "pis_pct": number, "cofins_pct": number,
                 "calculo": {"enum": ["sequencial", "conjunto"]}},
                ["icms_pct", "pis_pct", "cofins_pct", "calculo"] if answer else [])
    band = obj({"ate_kwh": nullable(number) if answer else {"anyOf": [*_NUMBER_IN["anyOf"], {"type": "null"}]},
                "valor": number}, ["ate_kwh", "valor"] if answer else [])
    if answer:
        cip = nullable({"anyOf": [obj({"valor_fixo": number}, ["valor_fixo"]),
                                  obj({"faixas": {"type": "array", "items": band}}, ["faixas"])]})
    else:  # the server takes `valor_fixo` or `faixas` (not both); a null one counts as absent
        cip = nullable(obj({"valor_fixo": nullable(number), "faixas": {"type": "array", "items": band}}))
    fio_b = obj({"preco_kwh": number, "pct_por_ano": {"type": "object", "propertyNames": {"pattern": "^[0-9]{4}$"},
                                                      "additionalProperties": number}}, ["preco_kwh"])
    props = {
        "vigencia": {**DAY, "description": "Primeiro dia em que esta versão vale."},
        "modalidade": ({"enum": [plans.CONVENCIONAL, plans.BRANCA], "description": "Tirada do preço da energia."}
                       if answer else {"description": "Ignorada (vem do preço da energia); aceita para que um GET "
                                                      "possa voltar num PUT."}),
        "energia": _energy(price, answer),
        "taxa_fixa_mensal": {**number, "description": "R$ por ciclo, pro rata por dias quando a versão muda."},
        "tributos": {**taxes, "description": "ICMS, PIS e COFINS em %, \"por dentro\"; `sequencial` (padrão): "
                                             "PIS/COFINS e depois ICMS; `conjunto`: uma só gross-up."},
        "cip": {**cip, "description": "CIP/COSIP: valor fixo ou faixas por kWh medido; não tributada."},
        "fonte": {"type": "string", "maxLength": plans.MAX_SOURCE, "description": "De onde vêm os preços."},
        "fio_b": {**(fio_b if answer else nullable(fio_b)),
                  "description": "Geração distribuída: o preço da TUSD Fio B (R$/kWh) e a parte dele (%) que a "
                                 "energia compensada ainda paga, por ano (Lei 14.300: 15 % em 2023 … 90 % em 2028). "
                                 "Ausente: nada."},
    }
    required = [k for k in props if k != "fio_b"] if answer else ["vigencia", "energia"]
    return obj(props, required, description=None if answer else "Uma versão da tarifa." + _NOTE)


def _plan(answer: bool, with_id: bool) -> dict[str, Any]:
    props: dict[str, Any] = {}
    if with_id:
        props["id"] = {"type": "string", "pattern": TARIFF_ID_PATTERN}
    elif not answer:
        props["id"] = {"type": ["string", "null"], "description": "Se presente, igual ao id do caminho."}
    props.update({
        "nome": {"type": "string", "minLength": 1, "maxLength": plans.MAX_NAME},
        "modalidade": ({"enum": [plans.CONVENCIONAL, plans.BRANCA], "description": "A da última versão."}
                       if answer else {"description": "Ignorada (vem da última versão)."}),
        "versoes": {"type": "array", "items": ref("VersaoTarifa" if answer else "NovaVersaoTarifa"),
                    "minItems": 1, "maxItems": plans.MAX_VERSIONS,
                    "description": "Em ordem de vigência; um ciclo que cruza uma mudança é pro rata por dias."},
        "feriados_extras": {"type": "array", "items": DAY, "maxItems": plans.MAX_EXTRA_HOLIDAYS,
                            "description": "Datas fora de ponta o dia todo além dos feriados nacionais."},
        "feriados_aneel": {"type": "boolean", "description": "Carnaval (terça) e Corpus Christi fora de ponta."},
    })
    if answer:
        return obj(props, list(props))
    return obj(props, (["id"] if with_id else []) + ["nome", "versoes"],
               description=("Uma tarifa nova." if with_id else "A tarifa inteira, com todas as versões.") + _NOTE)


def tariff_schemas() -> dict[str, Any]:
    values = obj({"vigencia": DAY, "fonte": {"type": "string"},
                  "por_100kwh": {"type": "object", "propertyNames": {"enum": list(FLAGS)},
                                 "additionalProperties": {"type": "number", "minimum": 0},
                                 "description": "R$ por 100 kWh de cada bandeira (verde: 0)."}},
                 ["vigencia", "fonte", "por_100kwh"])
    values_in = obj({"vigencia": DAY, "fonte": {"type": "string"},
                     "por_100kwh": {"type": "object", "propertyNames": {"enum": list(FLAGS)},
                                    "additionalProperties": _NUMBER_IN}}, ["vigencia", "por_100kwh"])
    months = {"type": "object", "propertyNames": {"pattern": MONTH_PATTERN},
              "additionalProperties": {"enum": list(FLAGS)}, "description": "A bandeira de cada mês, `AAAA-MM`."}
    return {
        "Tarifa": _plan(answer=True, with_id=True),
        "NovaTarifa": _plan(answer=False, with_id=True),
        "TarifaSubstituta": _plan(answer=False, with_id=False),
        "ListaDeTarifas": obj({"tarifas": {"type": "array", "items": ref("Tarifa")}}, ["tarifas"]),
        "VersaoTarifa": _version(answer=True),
        "NovaVersaoTarifa": _version(answer=False),
        "ListaDeVersoesTarifa": obj({"tarifa": {"type": "string"},
                                     "versoes": {"type": "array", "items": ref("VersaoTarifa")}}, ["tarifa", "versoes"]),
        "TabelaBandeiras": obj({"valores": {"type": "array", "items": values, "minItems": 1}, "meses": months},
                               ["valores", "meses"]),
        "NovaTabelaBandeiras": obj({"valores": {"type": "array", "items": values_in, "minItems": 1}, "meses": months},
                                   ["valores"], description="A tabela inteira: valores em ordem de vigência e a "
                                                            "bandeira de cada mês."),
        "BandeiraDoMes": obj({"bandeira": {"enum": list(FLAGS)}}, ["bandeira"]),
    }
