"""A meter's local calendar as epoch-millisecond instants: hours, days and months in an IANA zone.

Consumption is asked for in the meter's local calendar, and the days where that goes wrong are
the ones users of other monitors complain about: 23- and 25-hour days, midnights that do not
exist (America/Sao_Paulo before 2019 jumped from 00:00 to 01:00), half-hour and 45-minute zones.
So every boundary here is computed from the zone's rules and never by adding 24 h or 3600 s.

Pure functions of (zone, instant). Since 1980 (Kiritimati's -10:40 ended in 1979) every zone's
offset is a whole number of quarter hours, so every boundary for instants the suite stores is a
multiple of the readings store's 15-minute bucket (900_000 ms). Checked over all 599 zones of
tzdata: weekly offsets 1980-2040 and every day start of every fifth year.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Callable
from zoneinfo import ZoneInfo

INTERVALS = ("hora", "dia", "mes")

# A year of hours is 8,784 buckets at most (leap year); 10,000 allows that one query and stops a
# careless `intervalo=hora` over a decade from building ~90k buckets per request.
MAX_BUCKETS = 10_000

# Instants are limited to [1970, 9999): negative epochs are never readings, and the cap leaves
# datetime (which ends at year 9999) room to compute the end of the last month asked for.
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MIN_INSTANT_MS = 0
MAX_INSTANT_MS = (datetime(9999, 1, 1, tzinfo=timezone.utc) - EPOCH) // timedelta(milliseconds=1)

# Epoch milliseconds up to year 9999 have 15 digits (blipserver refused longer arguments too).
MAX_EPOCH_DIGITS = 15
# Longest legitimate text: "2026-11-22T14:05:09.123456+05:45" (32 chars); more is not a date.
MAX_INSTANT_TEXT = 40

_MS = timedelta(milliseconds=1)
_HOUR_MS = 3_600_000
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTH_RE = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True, slots=True)
class Bucket:
    """One local hour, day or month: the instants [inicio_ms, fim_ms) and its label."""

    inicio_ms: int
    fim_ms: int
    rotulo: str


# --- instants and wall clocks ------------------------------------------------------------------

def _aware(tz: ZoneInfo, ts_ms: int) -> datetime:
    # Integer arithmetic from the epoch: datetime.fromtimestamp goes through a float.
    return (EPOCH + timedelta(milliseconds=ts_ms)).astimezone(tz)


def _to_ms(moment: datetime) -> int:
    return (moment - EPOCH) // _MS


def _offset_ms(tz: ZoneInfo, ts_ms: int) -> int:
    offset = _aware(tz, ts_ms).utcoffset()
    assert offset is not None  # a ZoneInfo always has an offset
    return offset // _MS


def _first_true(lo: int, hi: int, pred: Callable[[int], bool]) -> int:
    """Smallest instant x in (lo, hi] with pred(x), given pred(lo) is false and pred(hi) true.

    Used to find an offset transition; millisecond resolution so LMT-era transitions at odd
    seconds are found exactly too. At most ~22 steps for the one-hour ranges searched here.
    """
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _wall_start(tz: ZoneInfo, wall: datetime) -> int:
    """First instant whose local wall clock reads `wall` or later.

    An ambiguous wall time (fall-back) gives its first occurrence (fold=0). A wall time that
    never happened (spring-forward gap) gives the transition instant, which is when the day or
    month really began: Sao Paulo 2018-11-04 began at 01:00-02:00.
    """
    first = _to_ms(wall.replace(tzinfo=tz, fold=0))
    if _aware(tz, first).replace(tzinfo=None) == wall:
        return first
    # In a gap, fold=0 and fold=1 read the wall time with the offsets before and after the
    # transition (PEP 495); the transition lies between those two instants.
    second = _to_ms(wall.replace(tzinfo=tz, fold=1))
    lo, hi = min(first, second), max(first, second)
    return _first_true(lo, hi, lambda ms: _aware(tz, ms).replace(tzinfo=None) >= wall)


def local_date(tz: ZoneInfo, ts_ms: int) -> date:
    """The local calendar date of an instant."""
    return _aware(tz, ts_ms).date()


def month_of(tz: ZoneInfo, ts_ms: int) -> tuple[int, int]:
    """(year, month) of an instant in the local calendar."""
    day = local_date(tz, ts_ms)
    return day.year, day.month


def day_bounds(tz: ZoneInfo, d: date) -> tuple[int, int]:
    """[start, end) of a local day: 23, 24 or 25 hours long.

    A day the zone skipped entirely (Pacific/Apia 2011-12-30) has start == end.
    """
    start = _wall_start(tz, datetime(d.year, d.month, d.day))
    following = d + timedelta(days=1)
    return start, _wall_start(tz, datetime(following.year, following.month, following.day))


def _month_start(tz: ZoneInfo, year: int, month: int) -> int:
    return _wall_start(tz, datetime(year, month, 1))


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def month_bounds(tz: ZoneInfo, year: int, month: int) -> tuple[int, int]:
    """[start, end) of a local calendar month."""
    if not 1 <= month <= 12:
        raise ValueError(f"mês inválido: {month} (use 1 a 12)")
    return _month_start(tz, year, month), _month_start(tz, *_next_month(year, month))


# --- buckets -----------------------------------------------------------------------------------

def _format_offset(offset_ms: int) -> str:
    sign = "-" if offset_ms < 0 else "+"
    minutes = abs(offset_ms) // 60_000
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _hour_label(tz: ZoneInfo, ts_ms: int) -> str:
    moment = _aware(tz, ts_ms)
    return f"{moment:%Y-%m-%dT%H:%M}{_format_offset(_offset_ms(tz, ts_ms))}"


def _hour_start(tz: ZoneInfo, ts_ms: int) -> int:
    """Start of the hour bucket holding ts: the last local :00 or offset change at or before it."""
    offset = _offset_ms(tz, ts_ms)
    wall = ts_ms + offset
    candidate = wall - wall % _HOUR_MS - offset
    if _offset_ms(tz, candidate) == offset:
        return candidate
    # The offset changed inside this local hour (Lord Howe shifts by 30 min): the bucket
    # starts at the change so that its label carries one offset only.
    return _first_true(candidate, ts_ms, lambda ms: _offset_ms(tz, ms) == offset)


def _hour_end(tz: ZoneInfo, start_ms: int) -> int:
    """Next local :00, or the next offset change if it comes first."""
    offset = _offset_ms(tz, start_ms)
    wall = start_ms + offset
    candidate = wall - wall % _HOUR_MS + _HOUR_MS - offset
    if _offset_ms(tz, candidate) == offset:
        return candidate
    return _first_true(start_ms, candidate, lambda ms: _offset_ms(tz, ms) != offset)


def _day_start(tz: ZoneInfo, ts_ms: int) -> int:
    return day_bounds(tz, local_date(tz, ts_ms))[0]


def _day_end(tz: ZoneInfo, start_ms: int) -> int:
    return day_bounds(tz, local_date(tz, start_ms))[1]


def _month_start_of(tz: ZoneInfo, ts_ms: int) -> int:
    return _month_start(tz, *month_of(tz, ts_ms))


def _month_end(tz: ZoneInfo, start_ms: int) -> int:
    return _month_start(tz, *_next_month(*month_of(tz, start_ms)))


def _day_label(tz: ZoneInfo, ts_ms: int) -> str:
    return local_date(tz, ts_ms).isoformat()


def _month_label(tz: ZoneInfo, ts_ms: int) -> str:
    year, month = month_of(tz, ts_ms)
    return f"{year:04d}-{month:02d}"


# interval → (start of the bucket holding an instant, end of a bucket from its start, label)
_RULES: dict[str, tuple[Callable[[ZoneInfo, int], int], Callable[[ZoneInfo, int], int],
                        Callable[[ZoneInfo, int], str]]] = {
    "hora": (_hour_start, _hour_end, _hour_label),
    "dia": (_day_start, _day_end, _day_label),
    "mes": (_month_start_of, _month_end, _month_label),
}


def _check_instant(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} deve ser um instante em milissegundos")
    if not MIN_INSTANT_MS <= value <= MAX_INSTANT_MS:
        raise ValueError(f"{name} fora do intervalo suportado (1970 a 9998)")


def local_buckets(tz: ZoneInfo, intervalo: str, de_ms: int, ate_ms: int) -> list[Bucket]:
    """Consecutive local hours, days or months covering [de_ms, ate_ms).

    The first bucket is the one holding de_ms (it may start before it), the last the one holding
    ate_ms - 1. Hours are real elapsed hours from local :00, so a repeated fall-back hour appears
    twice with different offsets in its label. Raises ValueError (pt-BR) for an unknown interval,
    an empty range or more than MAX_BUCKETS buckets.
    """
    if intervalo not in _RULES:
        raise ValueError(f"intervalo desconhecido: {intervalo!r} (use {', '.join(INTERVALS)})")
    _check_instant("de", de_ms)
    _check_instant("ate", ate_ms)
    if de_ms >= ate_ms:
        raise ValueError("o início (de) deve ser anterior ao fim (ate)")
    start_of, end_of, label_of = _RULES[intervalo]
    buckets: list[Bucket] = []
    start = start_of(tz, de_ms)
    while start < ate_ms:
        if len(buckets) == MAX_BUCKETS:
            raise ValueError(
                f"intervalo grande demais: mais de {MAX_BUCKETS} períodos de '{intervalo}'; "
                "use um intervalo maior ou um período menor"
            )
        end = end_of(tz, start)
        if end <= start:  # a zone rule that runs the calendar backwards: refuse, never loop
            raise ValueError(f"calendário do fuso {tz.key} não avança em {start}")
        buckets.append(Bucket(start, end, label_of(tz, start)))
        start = end
    return buckets


# --- query parameters --------------------------------------------------------------------------

def parse_instant(value: str, tz: ZoneInfo, *, end: bool = False) -> int:
    """A query parameter as epoch milliseconds.

    Accepts epoch milliseconds (digits only), an ISO date (local midnight in tz; with end=True
    the next local midnight, so `ate=2026-11-30` includes that whole day), an ISO datetime with
    offset, or a naive ISO datetime read in tz (first occurrence if repeated, the moment clocks
    jumped to if skipped). Raises ValueError with a pt-BR message otherwise.
    """
    if not isinstance(value, str):
        raise ValueError("data deve ser um texto")
    text = value.strip()
    if not text or len(text) > MAX_INSTANT_TEXT:
        raise ValueError(f"data inválida: {value[:MAX_INSTANT_TEXT]!r}")
    if text.isascii() and text.isdigit():
        if len(text) > MAX_EPOCH_DIGITS:
            raise ValueError(f"milissegundos com mais de {MAX_EPOCH_DIGITS} dígitos: {text!r}")
        result = int(text)
    elif _DATE_RE.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"data inexistente: {text!r}") from None
        _check_year(day.year, text)
        start, next_start = day_bounds(tz, day)
        result = next_start if end else start
    else:
        result = _parse_datetime(text, tz)
    if not MIN_INSTANT_MS <= result <= MAX_INSTANT_MS:
        raise ValueError(f"data fora do intervalo suportado (1970 a 9998): {text!r}")
    return result


def _check_year(year: int, text: str) -> None:
    if not 1970 <= year <= 9998:
        raise ValueError(f"data fora do intervalo suportado (1970 a 9998): {text!r}")


def _parse_datetime(text: str, tz: ZoneInfo) -> int:
    # fromisoformat also takes compact forms ("20261122T1405"); only the extended form with a
    # date part "AAAA-MM-DD" and a "T" or space separator is documented, so require it.
    if not _DATE_RE.match(text) or len(text) < 11 or text[10] not in "Tt ":
        raise ValueError(
            f"data inválida: {text!r} (use AAAA-MM-DD, AAAA-MM-DDTHH:MM[:SS][±HH:MM] "
            "ou milissegundos)"
        )
    normalized = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        moment = datetime.fromisoformat(normalized)
    except ValueError:
        raise ValueError(f"data/hora inválida: {text!r}") from None
    _check_year(moment.year, text)
    if moment.tzinfo is None:
        return _wall_start(tz, moment)
    return _to_ms(moment)


def parse_month(text: str) -> tuple[int, int]:
    """"AAAA-MM" as (year, month); ValueError (pt-BR) otherwise."""
    match = _MONTH_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"mês inválido: {text!r} (use AAAA-MM)")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        raise ValueError(f"mês inválido: {text!r} (mês de 01 a 12)")
    if not 1970 <= year <= 9998:
        raise ValueError(f"mês fora do intervalo suportado (1970 a 9998): {text!r}")
    return year, month
