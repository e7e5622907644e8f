"""Working days for time-of-use posts: weekends, Brazil's national holidays and a tariff's extras.

Tarifa Branca charges ponta and intermediário on working days only; weekends and national
holidays are fora de ponta all day. National holidays come from the `holidays` package (its
PUBLIC category for Brazil, which follows the federal laws: 1/1, Paixão, 21/4, 1/5, 7/9, 12/10,
2/11, 15/11, 20/11 since 2024, 25/12). ANEEL's definition of the ponta period (REN 414/2010,
kept by REN 1000/2021) also exempts Carnival Tuesday and Corpus Christi, which are only optional
holidays in law, so they are added from the date of Easter unless a tariff turns that off. A
distributor's own exceptions (a state holiday it honours) are a tariff's extra dates.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Mapping

import holidays

# Day kinds used to index consumption: Monday=0 … Sunday=6 as date.weekday(), and holidays apart,
# because a holiday is fora de ponta whatever weekday it falls on.
HOLIDAY = 7
DAY_KINDS = 8
WEEKDAY_NAMES = ("segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira",
                 "sábado", "domingo")

# The `holidays` package knows Brazil's calendar from 1890 on; billing data starts in 1970.
MIN_YEAR = 1970
MAX_YEAR = 9998


def easter(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's own name
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=512)
def national_holidays(year: int) -> Mapping[date, str]:
    """Brazil's national holidays of `year`, by date, with their pt-BR names."""
    return dict(holidays.country_holidays("BR", years=year, language="pt_BR"))


@lru_cache(maxsize=512)
def _aneel_holidays(year: int) -> Mapping[date, str]:
    sunday = easter(year)
    found = dict(national_holidays(year))
    found.setdefault(sunday - timedelta(days=47), "Terça-feira de Carnaval")
    found.setdefault(sunday + timedelta(days=60), "Corpus Christi")
    return found


@dataclass(frozen=True, slots=True)
class HolidayCalendar:
    """The days a tariff treats as holidays: national ones, ANEEL's two more, and `extras`."""

    extras: frozenset[date] = field(default_factory=frozenset)
    aneel: bool = True

    def holidays_of(self, year: int) -> Mapping[date, str]:
        base = _aneel_holidays(year) if self.aneel else national_holidays(year)
        if not self.extras:
            return base
        merged = dict(base)
        for extra in self.extras:
            if extra.year == year:
                merged.setdefault(extra, "Feriado da distribuidora")
        return merged

    def is_holiday(self, day: date) -> bool:
        return day in self.extras or day in self.holidays_of(day.year)

    def name(self, day: date) -> str | None:
        return self.holidays_of(day.year).get(day)

    def day_kind(self, day: date) -> int:
        """HOLIDAY for a holiday, else the weekday (0 = Monday)."""
        return HOLIDAY if self.is_holiday(day) else day.weekday()
