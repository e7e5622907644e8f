"""Example tariffs for a fresh install and the demo: one convencional and one Tarifa Branca.

The prices are illustrative, of the size of a residential B1 tariff in the Southeast in 2025
(TUSD + TE around R$ 0,80/kWh before taxes; Branca's ponta about twice that, fora de ponta
about a fifth less), not any distributor's resolution: a user replaces them with the ones on
their own bill. The post hours are the common 18–21 h ponta with an intermediário hour on each
side. Taxes: ICMS 18 %, PIS 1,1 %, COFINS 5,1 % (PIS/COFINS vary monthly; these are typical).
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from servidor.billing.charges import Cip, FaixaCip, Tributos
from servidor.billing.plans import PlanoTarifario, VersaoTarifa
from servidor.billing.prices import Janela, Postos, Preco, PrecoUnico

EXAMPLE_TAXES = Tributos(icms_pct=Decimal(18), pis_pct=Decimal("1.1"), cofins_pct=Decimal("5.1"))
EXAMPLE_CIP = Cip(faixas=(FaixaCip(Decimal(100), Decimal("8.50")), FaixaCip(Decimal(300), Decimal("19.80")),
                          FaixaCip(None, Decimal("34.60"))))
EXAMPLE_SOURCE = "valores ilustrativos (ordem de grandeza de 2025); use os da sua conta"
BRANCA_HOURS = (Janela("intermediario", "17:00", "18:00"), Janela("ponta", "18:00", "21:00"),
                Janela("intermediario", "21:00", "22:00"))

EXAMPLE_CONVENCIONAL = PlanoTarifario("convencional", "Convencional B1 (exemplo)", (VersaoTarifa(
    date(2025, 1, 1), PrecoUnico(Preco(tusd=Decimal("0.45210"), te=Decimal("0.34870"))),
    tributos=EXAMPLE_TAXES, cip=EXAMPLE_CIP, fonte=EXAMPLE_SOURCE),))

EXAMPLE_BRANCA = PlanoTarifario("branca", "Tarifa Branca B1 (exemplo)", (VersaoTarifa(
    date(2025, 1, 1),
    Postos(fora_ponta=Preco(tusd=Decimal("0.29840"), te=Decimal("0.33150")), janelas=BRANCA_HOURS,
           ponta=Preco(tusd=Decimal("1.21460"), te=Decimal("0.53720")),
           intermediario=Preco(tusd=Decimal("0.75630"), te=Decimal("0.33150"))),
    tributos=EXAMPLE_TAXES, cip=EXAMPLE_CIP, fonte=EXAMPLE_SOURCE),))

EXAMPLE_TARIFFS = (EXAMPLE_CONVENCIONAL, EXAMPLE_BRANCA)
