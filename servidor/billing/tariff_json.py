"""Tariffs and the bandeira table as JSON, for the API and the document store.

Numbers may be JSON numbers or numeric strings; unknown keys are refused so that a misspelt
"preco_kWh" is not silently ignored; every error is a BillingError whose `campo` is the path of
the offending field ("versoes[1].energia.janelas[0].inicio"). `*_to_json` gives JSON numbers
(floats): every value has at most 8 decimals and well under 15 significant digits, so reading
back what was written gives an equal value.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, Mapping, TypeVar

from servidor.billing.compensation import FioB
from servidor.billing.charges import Cip, FaixaCip, Tributos
from servidor.billing.errors import BillingError, InvalidFlagTable, InvalidTariff
from servidor.billing.fields import day
from servidor.billing.plans import PlanoTarifario, VersaoTarifa
from servidor.billing.prices import Energia, Faixa, Faixas, Janela, Postos, Preco, PrecoUnico
from servidor.billing.tariff_flags import TabelaBandeiras, ValoresBandeiras

T = TypeVar("T")

# "modalidade" is derived from the energy price and written for readers; it is accepted back
# (a GET body can be PUT unchanged) and ignored.
_PLAN_KEYS = frozenset({"id", "nome", "versoes", "feriados_extras", "feriados_aneel", "modalidade"})
_VERSION_KEYS = frozenset({"vigencia", "energia", "taxa_fixa_mensal", "tributos", "cip", "fonte", "modalidade",
                           "fio_b"})
_ENERGY_KEYS = {"unico": frozenset({"tipo", "preco"}), "faixas": frozenset({"tipo", "faixas"}),
                "postos": frozenset({"tipo", "fora_ponta", "ponta", "intermediario", "janelas"})}
_PRICE_KEYS = frozenset({"kwh", "tusd", "te"})
_TIER_KEYS = frozenset({"ate_kwh", "preco"})
_WINDOW_KEYS = frozenset({"posto", "inicio", "fim", "dias"})
_TAX_KEYS = frozenset({"icms_pct", "pis_pct", "cofins_pct", "calculo"})
_CIP_KEYS = frozenset({"valor_fixo", "faixas"})
_CIP_BAND_KEYS = frozenset({"ate_kwh", "valor"})
_FLAGS_KEYS = frozenset({"valores", "meses"})
_VALUES_KEYS = frozenset({"vigencia", "por_100kwh", "fonte"})


def _object(value: Any, keys: frozenset[str], what: str, error: type[BillingError]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise error(f"{what} deve ser um objeto JSON")
    unknown = sorted(set(value) - keys)
    if unknown:
        raise error(f"campos desconhecidos em {what}: {', '.join(map(str, unknown))}", unknown[0])
    return value


def _list(value: Any, what: str, error: type[BillingError]) -> list[Any]:
    if not isinstance(value, list):
        raise error(f"{what} deve ser uma lista")
    return value


def _at(prefix: str, build: Callable[[], T]) -> T:
    """Run `build`, placing any error's field under `prefix`."""
    try:
        return build()
    except BillingError as exc:
        raise exc.within(prefix) from None


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


# --- tariffs -------------------------------------------------------------------------------------

def price_from_json(value: Any) -> Preco:
    """A price: a number (R$/kWh) or {"kwh": …} or {"tusd": …, "te": …}."""
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return Preco(kwh=value)  # type: ignore[arg-type]
    obj = _object(value, _PRICE_KEYS, "preço", InvalidTariff)
    return Preco(kwh=obj.get("kwh"), tusd=obj.get("tusd"), te=obj.get("te"))


def price_to_json(preco: Preco) -> dict[str, Any]:
    if preco.kwh is not None:
        return {"kwh": float(preco.kwh)}
    return {"tusd": _number(preco.tusd), "te": _number(preco.te)}


def _energy_from_json(value: Any) -> Energia:
    kind = value.get("tipo") if isinstance(value, Mapping) else None
    if not isinstance(kind, str) or kind not in _ENERGY_KEYS:
        raise InvalidTariff(f"energia.tipo deve ser {', '.join(_ENERGY_KEYS)}", "tipo")
    obj = _object(value, _ENERGY_KEYS[kind], "energia", InvalidTariff)
    if kind == "unico":
        return PrecoUnico(_at("preco", lambda: price_from_json(obj.get("preco"))))
    if kind == "faixas":
        tiers = _list(obj.get("faixas"), "faixas", InvalidTariff)
        return Faixas(tuple(_at(f"faixas[{i}]", lambda item=item: _tier(item)) for i, item in enumerate(tiers)))
    windows = _list(obj.get("janelas", []), "janelas", InvalidTariff)
    prices = {name: _at(name, lambda name=name: price_from_json(obj[name]))
              for name in ("fora_ponta", "ponta", "intermediario") if obj.get(name) is not None}
    if "fora_ponta" not in prices:
        raise InvalidTariff("postos: o preço fora_ponta é obrigatório", "fora_ponta")
    return Postos(prices.pop("fora_ponta"),
                  tuple(_at(f"janelas[{i}]", lambda item=item: _window(item)) for i, item in enumerate(windows)),
                  **prices)


def _tier(item: Any) -> Faixa:
    obj = _object(item, _TIER_KEYS, "faixa", InvalidTariff)
    return Faixa(obj.get("ate_kwh"), _at("preco", lambda: price_from_json(obj.get("preco"))))


def _window(item: Any) -> Janela:
    obj = _object(item, _WINDOW_KEYS, "janela", InvalidTariff)
    days = obj.get("dias", [0, 1, 2, 3, 4])
    return Janela(obj.get("posto"), obj.get("inicio"), obj.get("fim"),  # type: ignore[arg-type]
                  tuple(_list(days, "dias", InvalidTariff)))


def _energy_to_json(energy: Energia) -> dict[str, Any]:
    if isinstance(energy, PrecoUnico):
        return {"tipo": "unico", "preco": price_to_json(energy.preco)}
    if isinstance(energy, Faixas):
        return {"tipo": "faixas", "faixas": [{"ate_kwh": _number(t.ate_kwh), "preco": price_to_json(t.preco)}
                                             for t in energy.faixas]}
    body: dict[str, Any] = {"tipo": "postos", "fora_ponta": price_to_json(energy.fora_ponta)}
    for name in ("ponta", "intermediario"):
        found = energy.price_of(name)
        body[name] = None if found is None else price_to_json(found)
    body["janelas"] = [{"posto": w.posto, "inicio": w.inicio, "fim": w.fim, "dias": list(w.dias)}
                       for w in energy.janelas]
    return body


def _taxes(value: Any) -> Tributos:
    obj = _object(value, _TAX_KEYS, "tributos", InvalidTariff)
    return Tributos(obj.get("icms_pct", 0), obj.get("pis_pct", 0), obj.get("cofins_pct", 0),
                    obj.get("calculo", "sequencial"))


def _cip(value: Any) -> Cip | None:
    if value is None:
        return None
    obj = _object(value, _CIP_KEYS, "cip", InvalidTariff)
    bands = _list(obj.get("faixas", []), "cip.faixas", InvalidTariff)
    return Cip(obj.get("valor_fixo"), tuple(
        _at(f"faixas[{i}]", lambda band=band: FaixaCip(
            _object(band, _CIP_BAND_KEYS, "faixa da CIP", InvalidTariff).get("ate_kwh"), band.get("valor")))
        for i, band in enumerate(bands)))


def version_from_json(value: Any) -> VersaoTarifa:
    obj = _object(value, _VERSION_KEYS, "versão", InvalidTariff)
    return VersaoTarifa(
        vigencia=day("vigencia", obj.get("vigencia"), InvalidTariff),
        energia=_at("energia", lambda: _energy_from_json(obj.get("energia"))),
        taxa_fixa_mensal=obj.get("taxa_fixa_mensal", 0),
        tributos=_at("tributos", lambda: _taxes(obj.get("tributos", {}))),
        cip=_at("cip", lambda: _cip(obj.get("cip"))),
        fonte=obj.get("fonte", ""),
        fio_b=_at("fio_b", lambda: FioB.from_json(obj.get("fio_b"))),
    )


def version_to_json(version: VersaoTarifa) -> dict[str, Any]:
    taxes = version.tributos
    cip = version.cip
    return {
        "vigencia": version.vigencia.isoformat(),
        "modalidade": version.modalidade,
        "energia": _energy_to_json(version.energia),
        "taxa_fixa_mensal": float(version.taxa_fixa_mensal),
        "tributos": {"icms_pct": float(taxes.icms_pct), "pis_pct": float(taxes.pis_pct),
                     "cofins_pct": float(taxes.cofins_pct), "calculo": taxes.calculo},
        "cip": None if cip is None else (
            {"valor_fixo": float(cip.valor_fixo)} if cip.valor_fixo is not None else
            {"faixas": [{"ate_kwh": _number(b.ate_kwh), "valor": float(b.valor)} for b in cip.faixas]}),
        "fonte": version.fonte,
        # Only when set: tariffs without it keep the JSON (and the invoices) they always had.
        **({} if version.fio_b is None else {"fio_b": version.fio_b.to_json()}),
    }


def plan_from_json(value: Any, id: str | None = None) -> PlanoTarifario:
    """A tariff from JSON; `id` comes from the URL when there is one (a different body id is refused)."""
    obj = _object(value, _PLAN_KEYS, "tarifa", InvalidTariff)
    body_id = obj.get("id")
    if id is not None and body_id is not None and body_id != id:
        raise InvalidTariff(f"id do corpo ({body_id!r}) difere do id informado ({id!r})", "id")
    raw_versions = _list(obj.get("versoes"), "versoes", InvalidTariff)
    extras = _list(obj.get("feriados_extras", []), "feriados_extras", InvalidTariff)
    aneel = obj.get("feriados_aneel", True)
    if not isinstance(aneel, bool):
        raise InvalidTariff("feriados_aneel deve ser true ou false", "feriados_aneel")
    return PlanoTarifario(
        id=id if id is not None else body_id,  # type: ignore[arg-type]
        nome=obj.get("nome"),  # type: ignore[arg-type]
        versoes=tuple(_at(f"versoes[{i}]", lambda item=item: version_from_json(item))
                      for i, item in enumerate(raw_versions)),
        feriados_extras=frozenset(day(f"feriados_extras[{i}]", item, InvalidTariff) for i, item in enumerate(extras)),
        feriados_aneel=aneel,
    )


def plan_to_json(plan: PlanoTarifario) -> dict[str, Any]:
    return {
        "id": plan.id,
        "nome": plan.nome,
        "modalidade": plan.modalidade,
        "versoes": [version_to_json(version) for version in plan.versoes],
        "feriados_extras": sorted(d.isoformat() for d in plan.feriados_extras),
        "feriados_aneel": plan.feriados_aneel,
    }


# --- bandeiras -----------------------------------------------------------------------------------

def flags_from_json(value: Any) -> TabelaBandeiras:
    obj = _object(value, _FLAGS_KEYS, "tabela de bandeiras", InvalidFlagTable)
    sets = []
    for index, item in enumerate(_list(obj.get("valores"), "valores", InvalidFlagTable)):
        def build(item: Any = item) -> ValoresBandeiras:
            entry = _object(item, _VALUES_KEYS, "valores das bandeiras", InvalidFlagTable)
            values = entry.get("por_100kwh")
            if not isinstance(values, Mapping):
                raise InvalidFlagTable("por_100kwh deve ser um objeto {bandeira: R$ por 100 kWh}", "por_100kwh")
            return ValoresBandeiras(day("vigencia", entry.get("vigencia"), InvalidFlagTable),
                                    tuple(values.items()), entry.get("fonte", ""))
        sets.append(_at(f"valores[{index}]", build))
    months = obj.get("meses", {})
    if not isinstance(months, Mapping):
        raise InvalidFlagTable("meses deve ser um objeto {\"AAAA-MM\": bandeira}", "meses")
    return TabelaBandeiras(tuple(sets), tuple(months.items()))


def flags_to_json(table: TabelaBandeiras) -> dict[str, Any]:
    return {
        "valores": [{"vigencia": v.vigencia.isoformat(), "fonte": v.fonte,
                     "por_100kwh": {name: float(amount) for name, amount in v.por_100kwh}} for v in table.valores],
        "meses": dict(table.meses),
    }
