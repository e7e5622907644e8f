"""Three realistic bills worked out by hand, line by line, against the computed invoice.

Each bill's arithmetic is in the comments: kWh from the profile, each line rounded half up to
the centavo, taxes grossed up "por dentro", and the total as the sum of the printed lines.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from servidor.billing.bill import invoice_for
from servidor.billing.charges import Cip, FaixaCip, Tributos
from servidor.billing.cycles import cycle_named
from servidor.billing.plans import PlanoTarifario, VersaoTarifa
from servidor.billing.prices import Faixa, Faixas, Postos, Preco, PrecoUnico
from servidor.billing.tariff_flags import TabelaBandeiras, ValoresBandeiras
from tests.billing_support import BRANCA_WINDOWS, VALUES_2025, flags, profile


def rows(invoice):
    return [(line.grupo, line.quantidade, line.preco, line.valor) for line in invoice.linhas]


def test_convencional_with_red_flag_taxes_and_cip():
    """Bifásica house read on the 10th; the cycle issued in November 2025 crosses October (vermelha 1)
    and November (amarela); TUSD and TE apart; ICMS, PIS, COFINS; CIP by consumption band."""
    ciclo = cycle_named(2025, 11, dia_leitura=10)  # 10/10/2025 to 09/11/2025: 22 + 9 = 31 days
    assert (ciclo.primeiro_dia, ciclo.ultimo_dia, ciclo.dias) == (date(2025, 10, 10), date(2025, 11, 9), 31)
    tariff = PlanoTarifario("convencional", "Convencional B1", (VersaoTarifa(
        date(2025, 7, 1), PrecoUnico(Preco(tusd=D("0.42163"), te=D("0.31892"))),
        tributos=Tributos(icms_pct=D(18), pis_pct=D("0.95"), cofins_pct=D("4.37")),
        cip=Cip(faixas=(FaixaCip(D(100), D("6.50")), FaixaCip(D(300), D("18.90")), FaixaCip(None, D("32.40"))))),))
    # 0,1 kWh every quarter hour: 9,6 kWh a day, 31 days = 297,600 kWh
    invoice = invoice_for(tariff, ciclo, profile(ciclo, [D("0.4")] * 24),
                          flags(**{"2025_10": "vermelha_1", "2025_11": "amarela"}), ligacao="bifasica")
    assert invoice.kwh_medido == D("297.600") == invoice.kwh_faturado  # above the 50 kWh minimum
    assert rows(invoice) == [
        # TUSD 297,6 × 0,42163 = 125,477088 → 125,48
        ("energia", D("297.600"), D("0.42163"), D("125.48")),
        # TE 297,6 × 0,31892 = 94,910592 → 94,91
        ("energia", D("297.600"), D("0.31892"), D("94.91")),
        # bandeira by days of each month: 297,6 × 22/31 = 211,2 kWh × R$ 4,463/100 = 9,425856 → 9,43
        ("bandeira", D("211.200"), D("0.04463"), D("9.43")),
        # 297,6 × 9/31 = 86,4 kWh × R$ 1,885/100 = 1,62864 → 1,63
        ("bandeira", D("86.400"), D("0.01885"), D("1.63")),
        # taxed subtotal 125,48 + 94,91 + 9,43 + 1,63 = 231,45
        # ICMS base = 231,45 / ((1 − 0,0095 − 0,0437) × (1 − 0,18)) = 231,45 / 0,776376 = 298,1159 → 298,12
        # ICMS = 298,12 × 18 % = 53,6616 → 53,66
        ("tributo", D("298.12"), D(18), D("53.66")),
        # PIS/COFINS base = 298,12 − 53,66 = 244,46; PIS = 244,46 × 0,95 % = 2,32237 → 2,32
        ("tributo", D("244.46"), D("0.95"), D("2.32")),
        # COFINS = 244,46 × 4,37 % = 10,682902 → 10,68
        ("tributo", D("244.46"), D("4.37"), D("10.68")),
        # CIP: 297,6 kWh is in the band of 100 to 300 kWh
        ("cip", None, None, D("18.90")),
    ]
    assert invoice.subtotal == D("231.45")
    # 231,45 + 53,66 + 2,32 + 10,68 + 18,90
    assert invoice.total == D("317.01")
    descriptions = [line.descricao for line in invoice.linhas]
    assert descriptions[:4] == ["Consumo TUSD", "Consumo TE", "Adicional bandeira vermelha patamar 1 (outubro/2025)",
                                "Adicional bandeira amarela (novembro/2025)"]
    assert invoice.linhas[2].calculo == "297,600 kWh × 22/31 dias = 211,200 kWh × R$ 4,463/100 kWh = R$ 9,43"
    assert invoice.linhas[4].calculo == "18 % × R$ 298,12 = R$ 53,66"
    assert invoice.bandeiras == (("2025-10", "vermelha_1"), ("2025-11", "amarela"))
    assert invoice.avisos == ()


def test_tarifa_branca_with_a_holiday_and_weekends():
    """Trifásica house read on the 15th; the cycle issued in December 2025 (15/11 to 14/12) has ten
    weekend days, Proclamação da República on a Saturday and Consciência Negra on Thursday 20/11."""
    ciclo = cycle_named(2025, 12, dia_leitura=15)
    assert ciclo.dias == 30
    tariff = PlanoTarifario("branca", "Tarifa Branca B1", (VersaoTarifa(
        date(2025, 7, 1),
        Postos(fora_ponta=Preco(tusd=D("0.27510"), te=D("0.28390")), janelas=BRANCA_WINDOWS,
               ponta=Preco(tusd=D("1.10327"), te=D("0.45710")),
               intermediario=Preco(tusd=D("0.68974"), te=D("0.28390"))),
        tributos=Tributos(icms_pct=D(17), pis_pct=D("1.1"), cofins_pct=D(5), calculo="conjunto"),
        cip=Cip(valor_fixo=D("12.35"))),))
    # kWh per hour, every day: 0,2 from 00 to 17 h, 0,8 at 17 h, 1,5 at 18, 19 and 20 h, 1,0 at 21 h,
    # 0,4 at 22 and 23 h: 3,4 + 0,8 + 4,5 + 1,0 + 0,8 = 10,5 kWh a day, 315 kWh in 30 days.
    by_hour = [D("0.2")] * 17 + [D("0.8"), D("1.5"), D("1.5"), D("1.5"), D("1.0"), D("0.4"), D("0.4")]
    invoice = invoice_for(tariff, ciclo, profile(ciclo, by_hour),
                          flags(**{"2025_11": "verde", "2025_12": "verde"}), ligacao="trifasica")
    # Working days: 17, 18, 19, 21/11 (20/11 is a holiday), 24–28/11, 1–5/12, 8–12/12 = 4 + 5 + 5 + 5 = 19.
    # ponta: 19 × 4,5 = 85,5 kWh (it would be 90 if 20/11 were billed as a working day)
    # intermediário: 19 × (0,8 + 1,0) = 34,2 kWh
    # fora de ponta: 315 − 85,5 − 34,2 = 195,3 kWh (= 19 × 4,2 on working days + 11 × 10,5 on the others)
    assert rows(invoice) == [
        ("energia", D("85.500"), D("1.10327"), D("94.33")),   # 85,5 × 1,10327 = 94,329585
        ("energia", D("85.500"), D("0.45710"), D("39.08")),   # 85,5 × 0,4571 = 39,08205
        ("energia", D("34.200"), D("0.68974"), D("23.59")),   # 34,2 × 0,68974 = 23,589108
        ("energia", D("34.200"), D("0.28390"), D("9.71")),    # 34,2 × 0,2839 = 9,70938
        ("energia", D("195.300"), D("0.27510"), D("53.73")),  # 195,3 × 0,2751 = 53,72703
        ("energia", D("195.300"), D("0.28390"), D("55.45")),  # 195,3 × 0,2839 = 55,44567
        # both months verde: no bandeira line. Subtotal 94,33 + 39,08 + 23,59 + 9,71 + 53,73 + 55,45 = 275,89
        # one gross-up ("conjunto"): base = 275,89 / (1 − 0,17 − 0,011 − 0,05) = 275,89 / 0,769 = 358,7646 → 358,76
        ("tributo", D("358.76"), D(17), D("60.99")),    # 358,76 × 17 % = 60,9892
        ("tributo", D("358.76"), D("1.1"), D("3.95")),  # 358,76 × 1,1 % = 3,94636
        ("tributo", D("358.76"), D(5), D("17.94")),     # 358,76 × 5 % = 17,938
        ("cip", None, None, D("12.35")),
    ]
    # 275,89 + 60,99 + 3,95 + 17,94 + 12,35
    assert invoice.total == D("371.12")
    assert invoice.modalidade == "branca"
    assert [line.descricao for line in invoice.linhas[:2]] == ["Consumo TUSD ponta", "Consumo TE ponta"]
    holidays = dict(invoice.feriados)
    assert set(holidays) == {date(2025, 11, 15), date(2025, 11, 20)}
    assert "Consciência Negra" in holidays[date(2025, 11, 20)]
    assert invoice.bandeiras == (("2025-11", "verde"), ("2025-12", "verde"))


def test_cycle_crossing_a_price_change_is_split_by_days():
    """Monofásica house read on the 20th; the tiered tariff is readjusted on 01/07/2026, inside the
    cycle issued in July 2026 (20/06 to 19/07): 11 days at the old prices, 19 at the new."""
    ciclo = cycle_named(2026, 7, dia_leitura=20)
    assert (ciclo.primeiro_dia, ciclo.ultimo_dia) == (date(2026, 6, 20), date(2026, 7, 19))
    old = VersaoTarifa(date(2026, 1, 1), Faixas((Faixa(D(100), Preco(D("0.55"))), Faixa(None, Preco(D("0.80"))))),
                       taxa_fixa_mensal=D("9.00"), tributos=Tributos(D(18), D("1.2"), D("5.5")),
                       cip=Cip(valor_fixo=D("8.50")))
    new = VersaoTarifa(date(2026, 7, 1), Faixas((Faixa(D(100), Preco(D("0.58"))), Faixa(None, Preco(D("0.84"))))),
                       taxa_fixa_mensal=D("9.60"), tributos=Tributos(D(20), D("1.2"), D("5.5")),
                       cip=Cip(valor_fixo=D("9.80")))
    tariff = PlanoTarifario("faixas", "Residencial por faixas", (old, new))
    values_2026 = ValoresBandeiras(date(2026, 1, 1), VALUES_2025.por_100kwh)
    table = TabelaBandeiras((VALUES_2025, values_2026), (("2026-06", "vermelha_2"), ("2026-07", "amarela")))
    # 0,05 kWh every quarter hour: 4,8 kWh a day, 30 days = 144 kWh (above the 30 kWh minimum)
    invoice = invoice_for(tariff, ciclo, profile(ciclo, [D("0.2")] * 24), table, ligacao="monofasica")
    # Pro rata: old version 144 × 11/30 = 52,8 kWh, new version 144 × 19/30 = 91,2 kWh.
    # Tier bounds scale alike: 100 × 11/30 = 36,667 kWh; 100 × 19/30 = 63,333 kWh.
    assert rows(invoice) == [
        ("energia", D("36.667"), D("0.55"), D("20.17")),   # 36,667 × 0,55 = 20,16685
        ("energia", D("16.133"), D("0.80"), D("12.91")),   # (52,8 − 36,667) × 0,80 = 12,9064
        ("energia", D("63.333"), D("0.58"), D("36.73")),   # 63,333 × 0,58 = 36,73314
        ("energia", D("27.867"), D("0.84"), D("23.41")),   # (91,2 − 63,333) × 0,84 = 23,40828
        # bandeira by calendar month: June 11 days, July 19 days (the same split here)
        ("bandeira", D("52.800"), D("0.07877"), D("4.16")),  # 52,8 × 0,07877 = 4,159056
        ("bandeira", D("91.200"), D("0.01885"), D("1.72")),  # 91,2 × 0,01885 = 1,71912
        # fixed charge pro rata: 9,00 × 11/30 = 3,30; 9,60 × 19/30 = 6,08
        ("taxa_fixa", None, D("9.00"), D("3.30")),
        ("taxa_fixa", None, D("9.60"), D("6.08")),
        # subtotal 20,17 + 12,91 + 36,73 + 23,41 + 4,16 + 1,72 + 3,30 + 6,08 = 108,48
        # taxes of the version in force on the last day (ICMS 20 %):
        # base = 108,48 / ((1 − 0,012 − 0,055) × 0,8) = 108,48 / 0,7464 = 145,3376 → 145,34
        ("tributo", D("145.34"), D(20), D("29.07")),      # 145,34 × 20 % = 29,068
        ("tributo", D("116.27"), D("1.2"), D("1.40")),    # (145,34 − 29,07) × 1,2 % = 1,39524
        ("tributo", D("116.27"), D("5.5"), D("6.39")),    # 116,27 × 5,5 % = 6,39485
        ("cip", None, None, D("9.80")),                   # the new version's CIP
    ]
    # 108,48 + 29,07 + 1,40 + 6,39 + 9,80
    assert invoice.total == D("155.14")
    first = invoice.linhas[0]
    assert first.descricao == "Consumo faixa 1 (até 36,667 kWh) — tarifa vigente desde 01/01/2026 (11/30 dias)"
    assert first.vigencia == date(2026, 1, 1) and invoice.linhas[2].vigencia == date(2026, 7, 1)
