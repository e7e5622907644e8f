"""Numbers, money and dates as a Brazilian reads them: `1.234,56 kWh`, `R$ 12,34`, `14/11/2026 23:00`.

Money and kWh go through `shared.money`, the same rounding the server's invoices use, so a value
on screen matches the one on the invoice to the centavo.
"""
from __future__ import annotations

import re
from datetime import datetime, tzinfo
from decimal import Decimal

from shared.money import format_brl, format_kwh, format_number_br

MISSING = "—"
MONTHS = ("jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez")

_NUMBER = re.compile(r"[+-]?(\d+|\d{1,3}(\.\d{3})+)(,\d+)?|[+-]?\d*\.?\d+")


def kwh(value: float | Decimal | None, decimals: int = 2) -> str:
    return MISSING if value is None else format_kwh(value, decimals)


def brl(value: float | Decimal | None) -> str:
    return MISSING if value is None else format_brl(value)


def number(value: float | Decimal | None, decimals: int = 2) -> str:
    return MISSING if value is None else format_number_br(value, decimals)


def watts(value: float | None) -> str:
    """Power in whole watts; a tenth of a watt is below any meter's resolution here."""
    return MISSING if value is None else f"{format_number_br(value, 0)} W"


def percent(value: float | None, decimals: int = 1) -> str:
    return MISSING if value is None else f"{format_number_br(value, decimals)}%"


def moment(value: datetime | None, tz: tzinfo | None = None) -> str:
    """`14/11/2026 23:00` in `tz` (the meter's zone), or in the instant's own offset."""
    if value is None:
        return MISSING
    local = value.astimezone(tz) if tz is not None else value
    return local.strftime("%d/%m/%Y %H:%M")


def month(label: str) -> str:
    """`2026-10` → `out/2026`."""
    year, _, mon = label.partition("-")
    try:
        return f"{MONTHS[int(mon) - 1]}/{year}"
    except (ValueError, IndexError):
        return label


def parse_number(text: str, name: str = "valor") -> float:
    """A number typed the Brazilian way (`1.234,5`, `0,62`) or with a decimal point (`1.5`).

    A comma is always the decimal separator; dots before a comma group thousands. A lone dot is a
    decimal point, since that is what `1.5` means to anyone who types it into a program.
    """
    cleaned = text.strip().replace(" ", "")
    if not cleaned or not _NUMBER.fullmatch(cleaned):
        raise ValueError(f"{name}: '{text.strip()}' não é um número (ex.: 1,5)")
    if "," in cleaned:
        cleaned = cleaned.replace(".", "").replace(",", ".")
    return float(cleaned)


# opengrid's sensor categories, as the server stores them, in words a person reads.
CATEGORIES = {
    "gridImport": "consumo", "gridExport": "injeção", "pvProd": "solar", "gridNet": "líquido",
    "gridCons": "consumo total", "gridSub": "submedição", "gridWater": "água", "gridGas": "gás",
    "heatProd": "calor",
}


def category(code: str) -> str:
    return CATEGORIES.get(code, code)
