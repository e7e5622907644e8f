"""What a bill adds to the energy: taxes "por dentro", CIP/COSIP and the custo de disponibilidade.

Taxes. ICMS (state) and PIS/COFINS (federal) are charged "por dentro": each is a share of an
amount that already contains it (LC 87/96 art. 13 §1º I for ICMS). Since the STF's Tema 69
(RE 574.706, 2017) ICMS is not part of the PIS/COFINS base, and distributors gross up in that
order: PIS/COFINS first, then ICMS over the result.

    total  = subtotal / ((1 − PIS − COFINS) × (1 − ICMS))     the ICMS base, rounded to centavos
    ICMS   = total × ICMS                                        rounded
    PIS    = (total − ICMS) × PIS,  COFINS = (total − ICMS) × COFINS   each rounded

That is the default ("sequencial"), because it is what a bill issued today prints: the PIS and
COFINS base is smaller than the ICMS base by the ICMS. The older single gross-up that ANEEL
published before, total = subtotal / (1 − (ICMS + PIS + COFINS)) with every tax over the same
base, is kept as "conjunto" for bills that still show equal bases. Each tax line is its rate
times its base, rounded, so each can be checked with a calculator; the total is the sum of the
lines, which may differ from the rounded gross-up by a centavo or two.

CIP/COSIP is the municipality's public-lighting contribution: a fixed amount or one by the
cycle's measured kWh band; it is collected on the bill but is no part of the taxed supply.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from shared.money import to_cents
from servidor.billing.errors import InvalidTariff
from servidor.billing.fields import HUNDRED, ZERO, amount, check_bands, percent, plain

# A municipality's CIP is a few reais to a few hundred a month; more is a typo.
MAX_CIP = Decimal(100_000)
MAX_CIP_BANDS = 20

SEQUENTIAL = "sequencial"
COMBINED = "conjunto"

# Custo de disponibilidade (REN 1000/2021): a low-voltage consumer pays at least this much energy.
MINIMUM_KWH = {"monofasica": Decimal(30), "bifasica": Decimal(50), "trifasica": Decimal(100)}
CONNECTION_LABELS = {"monofasica": "monofásica", "bifasica": "bifásica", "trifasica": "trifásica"}


def check_connection(value: str | None) -> str | None:
    """`ligacao`: monofasica, bifasica, trifasica, or None (no minimum billed energy)."""
    if value is not None and value not in MINIMUM_KWH:
        raise InvalidTariff(f"ligacao deve ser {', '.join(MINIMUM_KWH)} (recebido {value!r})", "ligacao")
    return value


class Tax(NamedTuple):
    nome: str
    pct: Decimal
    base: Decimal
    valor: Decimal


@dataclass(frozen=True, slots=True)
class Tributos:
    """ICMS, PIS and COFINS rates in percent and how they are grossed up (see the module doc)."""

    icms_pct: Decimal = ZERO
    pis_pct: Decimal = ZERO
    cofins_pct: Decimal = ZERO
    calculo: str = SEQUENTIAL

    def __post_init__(self) -> None:
        for name in ("icms_pct", "pis_pct", "cofins_pct"):
            object.__setattr__(self, name, percent(name, getattr(self, name), InvalidTariff))
        if self.calculo not in (SEQUENTIAL, COMBINED):
            raise InvalidTariff(f"calculo dos tributos deve ser '{SEQUENTIAL}' ou '{COMBINED}'", "calculo")
        federal = self.pis_pct + self.cofins_pct
        together = federal + self.icms_pct if self.calculo == COMBINED else federal
        if together >= HUNDRED:
            what = "ICMS + PIS + COFINS" if self.calculo == COMBINED else "PIS + COFINS"
            raise InvalidTariff(f"{what} deve somar menos que 100 % (soma {plain(together)} %)", "tributos")

    def taxes(self, subtotal: Decimal) -> list[Tax]:
        """The tax lines on a taxed subtotal, zero rates left out."""
        icms, pis, cofins = self.icms_pct / HUNDRED, self.pis_pct / HUNDRED, self.cofins_pct / HUNDRED
        if self.calculo == COMBINED:
            base = to_cents(subtotal / (1 - icms - pis - cofins))
            federal_base = base
        else:
            base = to_cents(subtotal / ((1 - pis - cofins) * (1 - icms)))
            federal_base = base - to_cents(base * icms)
        found = [Tax("ICMS", self.icms_pct, base, to_cents(base * icms)),
                 Tax("PIS/PASEP", self.pis_pct, federal_base, to_cents(federal_base * pis)),
                 Tax("COFINS", self.cofins_pct, federal_base, to_cents(federal_base * cofins))]
        return [tax for tax in found if tax.pct > 0]


@dataclass(frozen=True, slots=True)
class FaixaCip:
    """CIP of `valor` for a cycle whose measured kWh is up to `ate_kwh` (None: any above)."""

    ate_kwh: Decimal | None
    valor: Decimal

    def __post_init__(self) -> None:
        if self.ate_kwh is not None:
            object.__setattr__(self, "ate_kwh", amount("ate_kwh", self.ate_kwh, Decimal(1_000_000), InvalidTariff))
        object.__setattr__(self, "valor", amount("valor", self.valor, MAX_CIP, InvalidTariff))


@dataclass(frozen=True, slots=True)
class Cip:
    """CIP/COSIP: `valor_fixo` every cycle, or the band of `faixas` holding the cycle's kWh."""

    valor_fixo: Decimal | None = None
    faixas: tuple[FaixaCip, ...] = ()

    def __post_init__(self) -> None:
        bands = tuple(self.faixas)
        object.__setattr__(self, "faixas", bands)
        if (self.valor_fixo is None) == (not bands):
            raise InvalidTariff("CIP: informe valor_fixo OU faixas", "cip")
        if self.valor_fixo is not None:
            object.__setattr__(self, "valor_fixo", amount("valor_fixo", self.valor_fixo, MAX_CIP, InvalidTariff))
            return
        check_bands([band.ate_kwh for band in bands], MAX_CIP_BANDS, InvalidTariff, "CIP: ")

    def charge(self, kwh: Decimal) -> tuple[Decimal, str]:
        """(R$, how it was chosen) for a cycle that measured `kwh`."""
        if self.valor_fixo is not None:
            return to_cents(self.valor_fixo), "valor fixo"
        lower = ZERO
        for band in self.faixas:
            if band.ate_kwh is None or kwh <= band.ate_kwh:
                upper = "" if band.ate_kwh is None else f" a {plain(band.ate_kwh)}"
                span = f"acima de {plain(lower)} kWh" if band.ate_kwh is None else f"de {plain(lower)}{upper} kWh"
                return to_cents(band.valor), f"faixa {span}"
            lower = band.ate_kwh
        raise AssertionError("the last CIP band is open")  # checked in __post_init__
