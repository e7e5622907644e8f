"""Tariffs stored before versioned plans: the flat shape (one price or tiers, a fixed monthly
charge, one combined tax rate) read as a plan with the same meaning.

The old shape billed every month with the same components, so the plan has one version in force
since MIGRATED_SINCE (before any reading the server accepts). Its one tax rate was applied "por
dentro" over the whole subtotal, total = subtotal / (1 − rate): that is the engine's `conjunto`
gross-up with the whole rate as one tax. The rate was the sum of ICMS and PIS/COFINS, which the
old shape could not tell apart, so it becomes the ICMS line, and the version's `fonte` says so.
The monthly tier bounds become the cycle's bounds (the same thing for a calendar-month cycle).
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Mapping

from servidor.billing import Faixa, Faixas, PlanoTarifario, Preco, PrecoUnico, Tributos, VersaoTarifa
from servidor.billing.charges import COMBINED

# Readings are accepted from 1970 on (servidor.billing.calendar): a version in force since then
# prices every cycle a migrated store can hold.
MIGRATED_SINCE = date(1970, 1, 1)
# System 004's price, R$ 0,50/kWh, kept by the old tariff as its default.
OLD_DEFAULT_PRICE = Decimal("0.50")
MIGRATED_SOURCE = ("convertida da tarifa antiga (preço ou faixas, taxa fixa e uma alíquota de impostos "
                   "\"por dentro\", aqui como ICMS)")
DEFAULT_SOURCE = "preço do sistema 004 (R$ 0,50/kWh), sem tributos"
_FLAT_KEYS = frozenset({"id", "nome", "preco_kwh", "taxa_fixa_mensal", "impostos_pct", "faixas", "moeda"})


def is_flat(doc: Mapping[str, Any]) -> bool:
    """A stored tariff in the old shape (it has no versions)."""
    return "versoes" not in doc and set(doc) <= _FLAT_KEYS | {"doc_id"}


def plan_from_flat(doc: Mapping[str, Any]) -> PlanoTarifario:
    """The plan that bills as the old flat tariff did; BillingError if the old one was invalid."""
    tiers = doc.get("faixas") or []
    if tiers:
        energy: PrecoUnico | Faixas = Faixas(tuple(Faixa(t.get("ate_kwh"), Preco(kwh=t["preco_kwh"])) for t in tiers))
    else:
        energy = PrecoUnico(Preco(kwh=doc.get("preco_kwh", OLD_DEFAULT_PRICE)))
    rate = doc.get("impostos_pct", 0) or 0
    taxes = Tributos(icms_pct=rate, calculo=COMBINED) if rate else Tributos()
    version = VersaoTarifa(MIGRATED_SINCE, energy, taxa_fixa_mensal=doc.get("taxa_fixa_mensal", 0) or 0,
                           tributos=taxes, fonte=MIGRATED_SOURCE if doc.get("id") != DEFAULT_ID else DEFAULT_SOURCE)
    return PlanoTarifario(str(doc.get("id")), str(doc.get("nome") or doc.get("id")), (version,))


DEFAULT_ID = "padrao"
DEFAULT_PLAN = PlanoTarifario(DEFAULT_ID, "Tarifa padrão", (
    VersaoTarifa(MIGRATED_SINCE, PrecoUnico(Preco(kwh=OLD_DEFAULT_PRICE)), fonte=DEFAULT_SOURCE),))
