"""The app's pure parts: pt-BR numbers, chart windows and ticks, the invoice CSV, the tariff comparison."""
from __future__ import annotations

import csv
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from usuario import format as fmt
from usuario import periods
from usuario.export import write_invoice_csv
from usuario.billing_models import Comparison, Invoice
from usuario.models import Bucket, Consumption, Meter
from usuario.widgets.chart import span_ticks, y_ticks
from usuario.widgets.consumption import (
    coverage_text, covered_runs, positioned, price_per_kwh, tick_label, tick_slots,
)
from usuario.widgets.live import to_points
from usuario.widgets.tariff_comparison import verdict_text
from usuario.models import LiveReading


def test_numbers_money_and_dates_read_the_brazilian_way():
    assert fmt.kwh(1234.56) == "1.234,56 kWh"
    assert fmt.brl(12.345) == "R$ 12,35"
    assert fmt.brl(Decimal("-1")) == "-R$ 1,00"
    assert fmt.watts(5210.4) == "5.210 W"
    assert fmt.percent(139.94) == "139,9%"
    assert fmt.kwh(None) == fmt.watts(None) == fmt.MISSING
    assert fmt.month("2026-10") == "out/2026"
    moment = datetime(2026, 11, 15, 2, 0, tzinfo=timezone.utc)
    assert fmt.moment(moment, periods_zone()) == "14/11/2026 23:00"


def periods_zone():
    from zoneinfo import ZoneInfo

    return ZoneInfo("America/Sao_Paulo")


@pytest.mark.parametrize(("typed", "value"), [
    ("1,5", 1.5), ("1.5", 1.5), ("1.234,56", 1234.56), (" 250 ", 250.0), ("0,62", 0.62), ("-2", -2.0),
])
def test_typed_numbers_accept_comma_or_point(typed: str, value: float):
    assert fmt.parse_number(typed) == value


@pytest.mark.parametrize("typed", ["", "abc", "1,2,3", "1.2.3,4.5", "1e5"])
def test_typed_garbage_is_refused_in_portuguese(typed: str):
    with pytest.raises(ValueError, match="não é um número"):
        fmt.parse_number(typed)


@given(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False))
def test_a_formatted_number_parses_back(value: Decimal):
    assert Decimal(repr(fmt.parse_number(fmt.number(value)))) == value


def test_windows_end_today_and_move_by_whole_windows():
    today = date(2026, 11, 22)
    days = periods.current("dia", today)
    assert (days.start, days.end, days.slots) == (date(2026, 10, 23), today, 31)
    assert periods.previous(days) == periods.Window("dia", date(2026, 9, 22), date(2026, 10, 22))
    assert periods.shift(periods.previous(days), 1) == days
    months = periods.current("mes", today)
    assert (months.start, months.end, months.slots) == (date(2025, 12, 1), date(2026, 11, 30), 12)
    assert periods.previous(months) == periods.Window("mes", date(2024, 12, 1), date(2025, 11, 30))
    hour = periods.current("hora", date(2026, 3, 1))
    assert (hour.start, hour.end) == (datetime(2026, 3, 1, 0), datetime(2026, 3, 1, 23))
    assert periods.shift(hour, -1).start == datetime(2026, 2, 28, 0)
    assert days.title == "por dia de 23/10 a 22/11/2026"


def test_just_after_midnight_the_hour_window_is_the_last_24_hours():
    """Issue 14 #3: at 00:10 the hourly chart showed one "00h" point; it shows 24 hours, 23 of them yesterday's."""
    window = periods.current("hora", datetime(2026, 12, 1, 0, 10))
    assert (window.start, window.end, window.slots) == (datetime(2026, 11, 30, 1), datetime(2026, 12, 1, 0), 24)
    assert window.title == "por hora de 30/11 01h a 01/12/2026 00h"
    assert window.slot(datetime(2026, 11, 30, 1)) == 0 and window.slot(datetime(2026, 12, 1, 0)) == 23
    assert periods.previous(window) == periods.Window("hora", datetime(2026, 11, 29, 1), datetime(2026, 11, 30, 0))
    assert tick_slots(window) == [3, 7, 11, 15, 19, 23]  # 04h 08h … and midnight, labelled with its date
    assert [tick_label(window.slot_start(i), "hora") for i in tick_slots(window)] == [
        "04h", "08h", "12h", "16h", "20h", "01/12"]


def test_on_the_first_of_a_month_the_day_window_holds_the_month_before():
    """Issue 14 #3: on the 1st the daily chart showed one point; it shows the 31 days up to today."""
    window = periods.current("dia", datetime(2026, 12, 1, 0, 5))
    assert (window.start, window.end, window.slots) == (date(2026, 11, 1), date(2026, 12, 1), 31)
    assert window.slot(datetime(2026, 11, 1)) == 0 and window.slot(datetime(2026, 12, 1, 0, 0)) == 30
    march = periods.current("dia", date(2026, 3, 1))  # after a 28-day February
    assert (march.start, march.slots) == (date(2026, 1, 30), 31)


def test_buckets_sit_on_their_slot_by_time_not_by_their_index():
    """A window the server answered only in part keeps its width: the points sit where their time is."""
    zone = periods_zone()
    window = periods.current("hora", datetime(2026, 12, 1, 0, 10))
    buckets = tuple(Bucket(f"h{h}", datetime(2026, 11, 30, h, tzinfo=zone), datetime(2026, 11, 30, h, tzinfo=zone),
                           1.0, 1.0, False) for h in (22, 23))
    placed = positioned(window, Consumption("hora", buckets, 2.0), zone)
    assert [slot for slot, _ in placed] == [21, 22]


def test_cost_uses_the_projected_invoices_mean_price():
    meter = Meter.from_json({
        "id": "m", "nome": "M", "categoria": "gridImport", "fuso": "America/Sao_Paulo", "limite_alerta_kwh": None,
        "multiplicador": 1.0, "tarifa": "residencial", "estado": "ativo", "ultima_leitura": None,
        "resumo": {"potencia_w": None, "kwh_hoje": 1.0, "kwh_mes": 100.0, "cobertura_mes": 1.0,
                   "fatura_projetada": {"kwh": 200.0, "total": 236.0, "total_formatado": ""},
                   "limite_uso_pct": None, "alertas_ativos": 0, "leituras": 1}})
    price = price_per_kwh(meter)
    assert price == Decimal("1.18")
    window = periods.current("dia", date(2026, 11, 22))
    text = coverage_text(window, Consumption("dia", (), 10.0), None, price)
    assert text.startswith("Total 10,00 kWh ≈ R$ 11,80")


def _bucket(kwh: float, cobertura: float) -> Bucket:
    moment = datetime(2026, 11, 1, tzinfo=timezone.utc)
    return Bucket("x", moment, moment, kwh, cobertura, False)


def test_gaps_split_the_line_into_runs():
    buckets = [_bucket(1, 1), _bucket(2, 0.5), _bucket(0, 0), _bucket(0, 0), _bucket(3, 1), _bucket(0, 0)]
    assert covered_runs(buckets) == [[0, 1], [4]]
    assert covered_runs([]) == []


def test_y_ticks_are_round_and_labelled_in_pt_br():
    assert y_ticks(2414) == ([0, 500, 1000, 1500, 2000, 2500], ["0", "500", "1.000", "1.500", "2.000", "2.500"])
    assert y_ticks(0.37)[1] == ["0,0", "0,1", "0,2", "0,3", "0,4"]
    assert y_ticks(0) == ([0.0, 1.0], ["0", "1"])


def test_power_is_derived_from_the_counter_when_not_reported():
    zone = timezone.utc
    readings = (
        LiveReading(1, datetime(2026, 11, 22, 10, 0, tzinfo=zone), 1000.0, None),
        LiveReading(2, datetime(2026, 11, 22, 10, 30, tzinfo=zone), 1500.0, None),
        LiveReading(3, datetime(2026, 11, 22, 10, 31, tzinfo=zone), 1500.0, 700.0),
    )
    points = to_points(readings, None)
    assert [(p.seq, p.watts) for p in points] == [(2, 1000.0), (3, 700.0)]


INVOICE_JSON = {
    "mes": "2026-10", "tarifa": "residencial", "tarifa_nome": "Residencial B1", "kwh_medido": 775.14,
    "ciclo": {"nome": "2026-10", "rotulo": "outubro/2026", "primeiro_dia": "2026-10-01", "ultimo_dia": "2026-10-31"},
    "subtotal": 621.36, "tributos": 207.12, "total": 828.48, "cobertura": 1.0, "parcial": False, "situacao": "fechada",
    "linhas": [{"grupo": "energia", "descricao": "Consumo faixa 1 (até 100 kWh)", "quantidade": 100.0,
                "unidade": "kWh", "preco": 0.62, "valor": 62.0, "calculo": "100,000 kWh × R$ 0,62 = R$ 62,00"},
               {"grupo": "taxa_fixa", "descricao": "Taxa fixa mensal", "quantidade": None, "unidade": "mês",
                "preco": 12.5, "valor": 12.5, "calculo": "R$ 12,50 por ciclo = R$ 12,50"}],
}


def test_invoice_csv_has_the_line_items_then_the_totals(tmp_path: Path):
    invoice = Invoice.from_json(INVOICE_JSON)
    path = write_invoice_csv(tmp_path / "faturas", "casa-silva", invoice)
    assert path.name == "fatura-casa-silva-2026-10.csv"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM that makes Excel read UTF-8
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines(), delimiter=";"))
    assert rows[0] == ["ciclo", "grupo", "descricao", "quantidade", "unidade", "preco_unitario", "valor", "calculo"]
    assert rows[1] == ["2026-10", "energia", "Consumo faixa 1 (até 100 kWh)", "100,000", "kWh", "0,620000", "62,00",
                       "100,000 kWh × R$ 0,62 = R$ 62,00"]
    assert rows[-1] == ["2026-10", "", "Total", "", "R$", "", "828,48", ""]
    assert not list(tmp_path.glob("faturas/*.tmp"))


def test_a_comparison_without_complete_cycles_says_plainly_that_history_is_too_short():
    short = Comparison.from_json({
        "tarifas": [{"id": "residencial", "nome": "Residencial"}, {"id": "branca", "nome": "Branca"}],
        "ciclos": [], "ciclos_completos": 0, "totais": {"residencial": 0, "branca": 0},
        "diferencas": {"residencial": 0, "branca": 0}, "horas": [], "mais_barata": None, "historico_curto": True,
        "conclusao": "histórico curto demais para comparar: nenhum ciclo tem leituras suficientes", "avisos": []})
    assert verdict_text(short) == ("Ainda não dá para dizer: histórico curto demais para comparar: nenhum ciclo "
                                   "tem leituras suficientes.")


def test_exporting_power_is_drawn_below_zero_not_off_the_chart():
    """Issue 14 #6: a solar meter's live chart was empty while it exported (negative watts)."""
    values, labels = span_ticks(-209.0, -150.0)
    assert values[0] <= -209.0 and values[-1] == 0 and labels[0] == "-250"
    values, _ = span_ticks(-2500.0, 4200.0)
    assert values[0] <= -2500.0 <= 0 <= 4200.0 <= values[-1]
    assert span_ticks(10.0, 1234.0) == y_ticks(1234.0)
