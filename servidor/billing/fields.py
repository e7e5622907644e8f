"""Checked numbers and dates for the billing values, and how they are printed on a bill line."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any, Sequence

from shared.money import MAX_DECIMALS, MONEY_ROUNDING, format_number_br, to_decimal
from servidor.billing.errors import BillingError

# Meters count whole Wh: kWh beyond three decimals is noise from summing buckets, and a bill
# prints kWh with at most three decimals.
KWH_QUANTUM = Decimal("0.001")
HUNDRED = Decimal(100)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
ZERO = Decimal(0)


def amount(name: str, value: Any, maximum: Decimal, error: type[BillingError] = BillingError,
           *, positive: bool = False) -> Decimal:
    """A non-negative Decimal of at most MAX_DECIMALS decimals and at most `maximum`."""
    try:
        number = to_decimal(value, name)
    except ValueError as exc:
        raise error(str(exc), name) from None
    if number < 0:
        raise error(f"{name} não pode ser negativo", name)
    if positive and number == 0:
        raise error(f"{name} deve ser maior que zero", name)
    if number > maximum:
        raise error(f"{name} acima do máximo aceito ({plain(maximum)})", name)
    if number != number.quantize(Decimal(1).scaleb(-MAX_DECIMALS), rounding=MONEY_ROUNDING):
        raise error(f"{name} com mais de {MAX_DECIMALS} casas decimais", name)
    return number


def percent(name: str, value: Any, error: type[BillingError] = BillingError) -> Decimal:
    """A rate in percent, 0 ≤ rate < 100: a tax "por dentro" of 100 % would have no price left."""
    rate = amount(name, value, Decimal("Infinity"), error)
    if rate >= HUNDRED:
        raise error(f"{name} deve ser menor que 100 % (recebido {plain(rate)} %)", name)
    return rate


def day(name: str, value: Any, error: type[BillingError] = BillingError) -> date:
    """A date from a date or "AAAA-MM-DD"."""
    if isinstance(value, date):
        return value
    # Only the plain form: Python 3.11's fromisoformat also takes "20260101" and "2026-W01-1".
    if isinstance(value, str) and _DAY.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise error(f"{name} deve ser uma data AAAA-MM-DD (recebido {value!r})", name)


def plain(value: Decimal) -> str:
    """A number with only the decimals it needs, pt-BR: 100 → "100", 25.5 → "25,5"."""
    exponent = value.normalize().as_tuple().exponent
    decimals = max(0, -exponent) if isinstance(exponent, int) else 0
    return format_number_br(value, min(decimals, MAX_DECIMALS))


def kwh_text(value: Decimal) -> str:
    """kWh as a bill prints them: three decimals, "1.234,567 kWh"."""
    return f"{format_number_br(value, 3)} kWh"


def price_text(value: Decimal) -> str:
    """A unit price with every decimal it was given (resolutions publish up to 8): "R$ 0,65432"."""
    decimals = max(2, min(MAX_DECIMALS, -value.normalize().as_tuple().exponent))  # type: ignore[operator]
    return f"R$ {format_number_br(value, decimals)}"


def day_text(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def check_bands(bounds: Sequence[Decimal | None], maximum: int, error: type[BillingError], prefix: str = "") -> None:
    """Upper bounds of bands (tiers, CIP bands): one to `maximum`, strictly increasing, the last open."""
    if not bounds:
        raise error(f"{prefix}informe ao menos uma faixa", "faixas")
    if len(bounds) > maximum:
        raise error(f"{prefix}no máximo {maximum} faixas", "faixas")
    if bounds[-1] is not None:
        raise error(f"{prefix}a última faixa não pode ter limite (ate_kwh deve ser nulo)",
                    f"faixas[{len(bounds) - 1}].ate_kwh")
    previous = ZERO
    for index, bound in enumerate(bounds[:-1]):
        if bound is None:
            raise error(f"{prefix}só a última faixa pode ficar sem limite (ate_kwh)", f"faixas[{index}].ate_kwh")
        if bound <= previous:
            raise error(f"{prefix}as faixas devem ser crescentes: a faixa {index + 1} vai até {plain(bound)} kWh, "
                        f"que não é maior que {plain(previous)} kWh da faixa anterior", f"faixas[{index}].ate_kwh")
        previous = bound
