"""Bandeiras tarifárias: the month's flag and its surcharge in R$ per 100 kWh, as an editable table.

ANEEL announces each month's flag at the end of the month before, and revises the R$ per 100 kWh
of each flag from time to time, so the table has two parts the user keeps up to date: the values
(each set in force from its vigência on) and the flag of each calendar month. A month missing
from the table is billed as verde and the invoice says so, rather than refusing to bill.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Mapping

from servidor.billing.calendar import parse_month
from servidor.billing.errors import InvalidFlagTable
from servidor.billing.fields import amount, day_text

VERDE = "verde"
FLAGS = (VERDE, "amarela", "vermelha_1", "vermelha_2", "escassez_hidrica")
FLAG_LABELS = {
    VERDE: "verde",
    "amarela": "amarela",
    "vermelha_1": "vermelha patamar 1",
    "vermelha_2": "vermelha patamar 2",
    "escassez_hidrica": "escassez hídrica",
}
# The highest flag so far was escassez hídrica, R$ 14,20 per 100 kWh; R$ 100 would be a typo.
MAX_PER_100_KWH = Decimal(100)
# A century of months.
MAX_MONTHS = 1200
MAX_VALUE_SETS = 100
# Where the values come from: a resolution's name and date.
MAX_SOURCE = 200


def check_flag(name: str, campo: str) -> str:
    if not isinstance(name, str) or name not in FLAG_LABELS:
        raise InvalidFlagTable(f"bandeira desconhecida: {name!r} (use {', '.join(FLAGS)})", campo)
    return name


@dataclass(frozen=True, slots=True)
class ValoresBandeiras:
    """R$ per 100 kWh of each flag from `vigencia` on; `fonte` says where they come from."""

    vigencia: date
    por_100kwh: tuple[tuple[str, Decimal], ...]
    fonte: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.fonte, str) or len(self.fonte) > MAX_SOURCE:
            raise InvalidFlagTable(f"fonte deve ser um texto de até {MAX_SOURCE} caracteres", "fonte")
        pairs = tuple(self.por_100kwh.items()) if isinstance(self.por_100kwh, Mapping) else tuple(self.por_100kwh)
        seen: dict[str, Decimal] = {}
        for name, value in pairs:
            check_flag(name, "por_100kwh")
            seen[name] = amount(f"valor da bandeira {FLAG_LABELS[name]}", value, MAX_PER_100_KWH, InvalidFlagTable)
        if seen.get(VERDE, Decimal(0)) != 0:
            raise InvalidFlagTable("a bandeira verde não tem acréscimo (R$ 0)", "por_100kwh.verde")
        seen[VERDE] = Decimal(0)
        object.__setattr__(self, "por_100kwh", tuple((name, seen[name]) for name in FLAGS if name in seen))

    def value(self, flag: str) -> Decimal | None:
        return dict(self.por_100kwh).get(flag)


@dataclass(frozen=True, slots=True)
class TabelaBandeiras:
    """Value sets in vigência order and the flag of each month ("AAAA-MM", flag)."""

    valores: tuple[ValoresBandeiras, ...]
    meses: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        sets = tuple(self.valores)
        if not sets or len(sets) > MAX_VALUE_SETS:
            raise InvalidFlagTable(f"informe de 1 a {MAX_VALUE_SETS} conjuntos de valores das bandeiras", "valores")
        for index, (before, after) in enumerate(zip(sets, sets[1:]), 1):
            if after.vigencia <= before.vigencia:
                raise InvalidFlagTable(
                    f"os valores com vigência {day_text(after.vigencia)} não são posteriores aos de "
                    f"{day_text(before.vigencia)}; informe-os em ordem de vigência", f"valores[{index}].vigencia")
        object.__setattr__(self, "valores", sets)
        months = dict(self.meses.items()) if isinstance(self.meses, Mapping) else dict(self.meses)
        if len(months) > MAX_MONTHS:
            raise InvalidFlagTable(f"no máximo {MAX_MONTHS} meses na tabela de bandeiras", "meses")
        for month, flag in months.items():
            try:
                year, number = parse_month(month)
            except ValueError as exc:
                raise InvalidFlagTable(str(exc), f"meses.{month}") from None
            check_flag(flag, f"meses.{month}")
            values = self._values_on(date(year, number, 1))
            if values is None or values.value(flag) is None:
                raise InvalidFlagTable(f"{month}: não há valor em vigor para a bandeira {FLAG_LABELS[flag]}",
                                       f"meses.{month}")
        object.__setattr__(self, "meses", tuple(sorted(months.items())))

    def _values_on(self, day: date) -> ValoresBandeiras | None:
        found = None
        for values in self.valores:
            if values.vigencia > day:
                break
            found = values
        return found

    def flag_of(self, year: int, month: int) -> tuple[str, Decimal] | None:
        """(flag, R$ per 100 kWh) of a calendar month, or None when the table lacks the month."""
        flag = dict(self.meses).get(f"{year:04d}-{month:02d}")
        if flag is None:
            return None
        values = self._values_on(date(year, month, 1))
        assert values is not None  # checked when the table was built
        return flag, values.value(flag)  # type: ignore[return-value]

    def with_month(self, month: str, flag: str) -> TabelaBandeiras:
        """The same table with one month's flag set (or replaced)."""
        return TabelaBandeiras(self.valores, tuple(dict(self.meses, **{month: flag}).items()))


# Example data, for a fresh install to bill with and for the user to keep up to date. The values
# are ANEEL's R$ per 100 kWh in force throughout 2025 (its monthly announcements of 2025 quote
# them: amarela R$ 1,885, vermelha patamar 1 R$ 4,463, vermelha patamar 2 R$ 7,877), checked
# 2026-11, and the escassez hídrica flag of R$ 14,20 that ANEEL created for September 2021 to
# April 2022. The months are the flags as announced; later months must be added by the user.
EXAMPLE_FLAGS = TabelaBandeiras(
    valores=(
        ValoresBandeiras(
            vigencia=date(2021, 9, 1),
            por_100kwh=((VERDE, Decimal(0)), ("escassez_hidrica", Decimal("14.20"))),
            fonte="ANEEL, bandeira escassez hídrica (setembro de 2021 a abril de 2022)",
        ),
        ValoresBandeiras(
            vigencia=date(2025, 1, 1),
            por_100kwh=((VERDE, Decimal(0)), ("amarela", Decimal("1.885")),
                        ("vermelha_1", Decimal("4.463")), ("vermelha_2", Decimal("7.877"))),
            fonte="ANEEL, valores das bandeiras em vigor em 2025 (consultado em 2026-11)",
        ),
    ),
    meses=(
        ("2021-09", "escassez_hidrica"), ("2021-10", "escassez_hidrica"), ("2021-11", "escassez_hidrica"),
        ("2021-12", "escassez_hidrica"), ("2022-01", "escassez_hidrica"), ("2022-02", "escassez_hidrica"),
        ("2022-03", "escassez_hidrica"),
        ("2025-01", VERDE), ("2025-02", VERDE), ("2025-03", VERDE), ("2025-04", VERDE),
        ("2025-05", "amarela"), ("2025-06", "vermelha_1"), ("2025-07", "vermelha_1"),
        ("2025-08", "vermelha_2"), ("2025-09", "vermelha_2"), ("2025-10", "vermelha_1"),
        ("2025-11", "amarela"), ("2025-12", "amarela"), ("2026-01", VERDE),
    ),
)
