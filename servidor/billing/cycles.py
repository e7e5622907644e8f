"""Billing cycles: from one meter reading day to the next, named by the month the bill is issued in.

A meter read on day `dia_leitura` (1–28, so that every month has it) closes a cycle on that
day's local midnight: the cycle named 2026-03 with dia_leitura 10 runs from 10/02 to 09/03
inclusive, and the reading of 10/03 is issued in March, as on the paper bill. Without a reading
day the cycle is the calendar month and is named by that month (2026-03 is March), which is
what the invoices of earlier versions were called, so their names keep their meaning.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Iterator
from zoneinfo import ZoneInfo

from servidor.billing.calendar import day_bounds, parse_month
from servidor.billing.errors import InvalidCycle

# Day 28 is the last every month has; a reading day of 30 would have no February cycle.
MAX_READING_DAY = 28
# The comparison asks for at most this many cycles: ten years is beyond any screen or decision.
MAX_CYCLES = 120

_DAY_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
MONTH_NAMES = ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto",
               "setembro", "outubro", "novembro", "dezembro")


def check_reading_day(value: Any) -> int | None:
    """`dia_leitura` as an int 1–28, or None for calendar months; InvalidCycle otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_READING_DAY:
        raise InvalidCycle(
            f"dia_leitura deve ser um inteiro de 1 a {MAX_READING_DAY} (ou nulo para o mês civil)",
            "dia_leitura",
        )
    return value


def _shift(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


@dataclass(frozen=True, slots=True)
class Ciclo:
    """One billing cycle: local days [primeiro_dia, ultimo_dia], named "AAAA-MM"."""

    nome: str
    primeiro_dia: date
    ultimo_dia: date
    dia_leitura: int | None = None

    def __post_init__(self) -> None:
        if self.ultimo_dia < self.primeiro_dia:
            raise InvalidCycle("o último dia do ciclo é anterior ao primeiro", "ultimo_dia")

    @property
    def dias(self) -> int:
        return (self.ultimo_dia - self.primeiro_dia).days + 1

    @property
    def rotulo(self) -> str:
        """"março/2026": how the bill names its month."""
        year, month = parse_month(self.nome)
        return f"{MONTH_NAMES[month - 1]}/{year}"

    def days(self) -> Iterator[date]:
        for offset in range(self.dias):
            yield self.primeiro_dia + timedelta(days=offset)

    def contains(self, day: date) -> bool:
        return self.primeiro_dia <= day <= self.ultimo_dia

    def bounds_ms(self, tz: ZoneInfo) -> tuple[int, int]:
        """[start, end) instants of the cycle in the meter's zone (local midnights)."""
        return day_bounds(tz, self.primeiro_dia)[0], day_bounds(tz, self.ultimo_dia)[1]

    def to_json(self) -> dict[str, Any]:
        return {
            "nome": self.nome,
            "rotulo": self.rotulo,
            "primeiro_dia": self.primeiro_dia.isoformat(),
            "ultimo_dia": self.ultimo_dia.isoformat(),
            "dias": self.dias,
            "dia_leitura": self.dia_leitura,
        }


def cycle_named(year: int, month: int, dia_leitura: int | None = None) -> Ciclo:
    """The cycle issued in (year, month)."""
    reading_day = check_reading_day(dia_leitura)
    if not 1 <= month <= 12:
        raise InvalidCycle(f"mês inválido: {month} (use 1 a 12)", "mes")
    name = f"{year:04d}-{month:02d}"
    if reading_day is None:
        following = date(*_shift(year, month, 1), 1)
        return Ciclo(name, date(year, month, 1), following - timedelta(days=1), None)
    start = date(*_shift(year, month, -1), reading_day)
    return Ciclo(name, start, date(year, month, reading_day) - timedelta(days=1), reading_day)


def cycle_for_day(day: date, dia_leitura: int | None = None) -> Ciclo:
    """The cycle a local day is billed in."""
    reading_day = check_reading_day(dia_leitura)
    if reading_day is None or day.day < reading_day:
        return cycle_named(day.year, day.month, reading_day)
    return cycle_named(*_shift(day.year, day.month, 1), reading_day)


def parse_cycle(text: str, dia_leitura: int | None = None) -> Ciclo:
    """A cycle from "AAAA-MM" (its name) or "AAAA-MM-DD" (the cycle holding that day)."""
    if isinstance(text, str) and _DAY_RE.fullmatch(text.strip()):
        try:
            day = date.fromisoformat(text.strip())
        except ValueError:
            raise InvalidCycle(f"data inexistente: {text!r}", "ciclo") from None
        return cycle_for_day(day, dia_leitura)
    try:
        year, month = parse_month(text)
    except ValueError as exc:
        raise InvalidCycle(f"{exc} ou AAAA-MM-DD", "ciclo") from None
    return cycle_named(year, month, dia_leitura)


def previous_cycles(last: Ciclo, count: int) -> list[Ciclo]:
    """`count` consecutive cycles ending with `last`, oldest first."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_CYCLES:
        raise InvalidCycle(f"número de ciclos deve ser de 1 a {MAX_CYCLES}", "ciclos")
    year, month = parse_month(last.nome)
    return [cycle_named(*_shift(year, month, -back), last.dia_leitura) for back in range(count - 1, -1, -1)]


def closed_cycles(today: date, count: int, dia_leitura: int | None = None) -> list[Ciclo]:
    """The `count` cycles before the one holding `today` (which is still open), oldest first."""
    current = cycle_for_day(today, dia_leitura)
    return previous_cycles(cycle_for_day(current.primeiro_dia - timedelta(days=1), dia_leitura), count)
