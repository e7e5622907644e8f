"""Money rounding and Brazilian number formatting."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.money import format_brl, format_kwh, format_number_br, to_cents, to_decimal


@pytest.mark.parametrize(("value", "expected"), [
    (Decimal("0"), "R$ 0,00"),
    (Decimal("1234.56"), "R$ 1.234,56"),
    (Decimal("1000000"), "R$ 1.000.000,00"),
    (Decimal("12.5"), "R$ 12,50"),
    (Decimal("0.005"), "R$ 0,01"),
    (Decimal("-1"), "-R$ 1,00"),
    (Decimal("-1234.5"), "-R$ 1.234,50"),
    (999.999, "R$ 1.000,00"),
    (7, "R$ 7,00"),
])
def test_format_brl_examples(value, expected):
    assert format_brl(value) == expected


def test_format_brl_never_prints_a_negative_zero():
    assert format_brl(Decimal("-0.001")) == "R$ 0,00"
    assert format_brl(-0.0) == "R$ 0,00"


def test_to_cents_rounds_an_exact_half_up_not_to_even():
    assert to_cents(Decimal("0.125")) == Decimal("0.13")
    assert to_cents(Decimal("0.135")) == Decimal("0.14")
    assert to_cents(Decimal("2.345")) == Decimal("2.35")


def test_to_cents_rounds_a_negative_half_away_from_zero():
    assert to_cents(Decimal("-0.125")) == Decimal("-0.13")


def test_float_is_read_as_typed_not_as_its_binary_value():
    # 2.675 is stored as 2.67499999…; a person typing it expects R$ 2,68.
    assert to_cents(to_decimal(2.675)) == Decimal("2.68")


def test_format_kwh_uses_comma_and_dot_grouping():
    assert format_kwh(1234.5) == "1.234,50 kWh"
    assert format_kwh(612.4) == "612,40 kWh"
    assert format_kwh(0.4, 0) == "0 kWh"
    assert format_kwh(12.3456, 3) == "12,346 kWh"


def test_format_number_br_negative_and_zero_decimals():
    assert format_number_br(-1234567.891, 1) == "-1.234.567,9"
    assert format_number_br(Decimal("1500"), 0) == "1.500"
    assert format_number_br(-0.001, 2) == "0,00"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "abc", True, None, [1]])
def test_non_numbers_are_refused_in_portuguese(bad):
    with pytest.raises(ValueError, match="número|finito"):
        format_brl(bad)


def test_decimals_out_of_range_are_refused():
    with pytest.raises(ValueError, match="casas decimais"):
        format_number_br(1, -1)


@given(st.decimals(min_value=-10**9, max_value=10**9, places=2, allow_nan=False, allow_infinity=False))
def test_format_brl_round_trips_through_brazilian_parsing(value):
    text = format_brl(value)
    negative = text.startswith("-")
    digits = text.removeprefix("-").removeprefix("R$ ").replace(".", "").replace(",", ".")
    parsed = Decimal(digits) * (-1 if negative else 1)
    assert parsed == value
