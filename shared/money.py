"""Money and quantities as Brazilians read them: Decimal centavos, "R$ 1.234,56", "612,40 kWh".

Money is Decimal end to end: a float cannot hold R$ 0,10, and an invoice whose lines do not add
up to its total to the centavo is the kind of error users stop trusting a tool over.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")

# Half-up (an exact half goes away from zero) is what a customer gets when checking the bill
# with a calculator or a spreadsheet (ARRED/ROUND round half away from zero), so a line we print
# matches the one they compute. ABNT NBR 5891 prescribes half-to-even for an exact trailing 5
# instead; if a distributor's bill is shown to follow it, ROUND_HALF_EVEN is this one constant.
MONEY_ROUNDING = ROUND_HALF_UP

# Enough for the 8 decimals some tariff resolutions publish; beyond that is a typo, not a price.
MAX_DECIMALS = 8

_SWAP_SEPARATORS = str.maketrans({",": ".", ".": ","})


def to_decimal(value: Decimal | float | int | str, name: str = "valor") -> Decimal:
    """A finite Decimal from a Decimal, int, float or numeric text; ValueError (pt-BR) otherwise.

    A float goes through its shortest repr, so 2.675 becomes Decimal("2.675") as the person who
    typed it meant, not the binary 2.67499999… it is stored as.
    """
    if isinstance(value, bool):
        raise ValueError(f"{name} deve ser um número")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{name} não é um número: {value!r}") from None
    else:
        raise ValueError(f"{name} deve ser um número")
    if not number.is_finite():
        raise ValueError(f"{name} deve ser finito")
    return number


def to_cents(value: Decimal) -> Decimal:
    """Rounded to centavos with MONEY_ROUNDING; -0,00 becomes 0,00."""
    cents = to_decimal(value).quantize(CENT, rounding=MONEY_ROUNDING)
    return cents + 0  # adding zero drops the sign of a negative zero (Decimal keeps -0.00)


def _round(value: Decimal | float | int, decimals: int) -> Decimal:
    if isinstance(decimals, bool) or not isinstance(decimals, int):
        raise ValueError("casas decimais deve ser um inteiro")
    if not 0 <= decimals <= MAX_DECIMALS:
        raise ValueError(f"casas decimais deve estar entre 0 e {MAX_DECIMALS}")
    quantum = Decimal(1).scaleb(-decimals)
    rounded = to_decimal(value).quantize(quantum, rounding=MONEY_ROUNDING)
    return rounded + 0  # drop a negative zero: "-0,00 kWh" reads as an error


def format_number_br(value: Decimal | float | int, decimals: int = 2) -> str:
    """"1.234,56": a dot between thousands and a comma before the decimals."""
    rounded = _round(value, decimals)
    # Already rounded to `decimals` places, so this format adds grouping and never rounds again.
    text = f"{abs(rounded):,.{decimals}f}".translate(_SWAP_SEPARATORS)
    return f"-{text}" if rounded < 0 else text


def format_brl(value: Decimal | float | int) -> str:
    """"R$ 1.234,56"; a negative value (a credit) is "-R$ 1,00"."""
    cents = to_cents(to_decimal(value))
    text = "R$ " + format_number_br(abs(cents), 2)
    return f"-{text}" if cents < 0 else text


def format_kwh(value: Decimal | float | int, decimals: int = 2) -> str:
    """"1.234,56 kWh"."""
    return f"{format_number_br(value, decimals)} kWh"
