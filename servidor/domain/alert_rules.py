"""Alert rules as pure functions: numbers in, findings out.

The server's alert service gathers the numbers (month's kWh, last reading, counter resets),
calls these rules and stores what they return, keyed by (`tipo`, `chave`): `chave` names the
cause, so a finding whose cause already has an alert is the same alert seen again, not a new one
(servidor/domain/alerts.py counts the repeats). Keeping the rules apart from storage and clocks
lets the tests state each rule with plain numbers.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from servidor.billing.calendar import EPOCH, local_date
from servidor.billing.projection import project_month_kwh
from shared.money import format_kwh

LIMITE_EXCEDIDO = "limite_excedido"
PROJECAO_LIMITE = "projecao_limite"
SILENCIO = "silencio"
REINICIO_CONTADOR = "reinicio_contador"

# A projection from the first hours of a month is noise: one evening's shower or oven,
# multiplied by 30, "passes" any limit. After a full day the pace includes a whole daily cycle.
MIN_ELAPSED_FOR_PROJECTION_MS = 24 * 3_600_000

_MINUTE_MS = 60_000
_HOUR_MS = 60 * _MINUTE_MS
_DAY_MS = 24 * _HOUR_MS


@dataclass(frozen=True, slots=True)
class Finding:
    """Something an alert should say. `chave` names the cause: same kind and cause, same alert."""

    tipo: str
    chave: str
    mensagem: str


def _month_key(month: tuple[int, int]) -> str:
    year, number = month
    return f"{year:04d}-{number:02d}"


def evaluate_month(
    limite_kwh: float | None,
    kwh_mes: float,
    now_ms: int,
    month_start_ms: int,
    month_end_ms: int,
    tz: ZoneInfo,
    month: tuple[int, int],
) -> list[Finding]:
    """The month's consumption against the meter's monthly limit.

    `limite_excedido` once the month's kWh passed the limit; otherwise `projecao_limite` when
    the pace so far passes it before the month ends, naming the local day it will. No projection
    before MIN_ELAPSED_FOR_PROJECTION_MS of the month or after its end. One key per kind and
    month, so each is raised once a month. No limit (None) means no findings.
    """
    if limite_kwh is None:
        return []
    if limite_kwh < 0:
        raise ValueError("limite de consumo não pode ser negativo")
    if month_end_ms <= month_start_ms:
        raise ValueError("fim do mês deve ser posterior ao início")
    key = _month_key(month)
    if kwh_mes > limite_kwh:
        return [Finding(
            LIMITE_EXCEDIDO,
            f"limite:{key}",
            f"Consumo do mês ({format_kwh(kwh_mes)}) passou do limite de {format_kwh(limite_kwh)}",
        )]
    elapsed = now_ms - month_start_ms
    if elapsed < MIN_ELAPSED_FOR_PROJECTION_MS or now_ms >= month_end_ms or kwh_mes <= 0:
        return []
    month_ms = month_end_ms - month_start_ms
    if project_month_kwh(kwh_mes, elapsed, month_ms) <= limite_kwh:
        return []
    # At the same pace the limit is reached after (limit / pace) of the elapsed time has run;
    # clamped into the month because the float pace can land a millisecond past its end.
    crossing_ms = month_start_ms + int(elapsed * limite_kwh / kwh_mes)
    crossing_ms = min(max(crossing_ms, now_ms), month_end_ms - 1)
    day = local_date(tz, crossing_ms).day
    return [Finding(
        PROJECAO_LIMITE,
        f"projecao:{key}",
        f"Neste ritmo, o consumo passa do limite de {format_kwh(limite_kwh)} no dia {day}",
    )]


def format_duration(ms: int) -> str:
    """A silence's length as people say it: "45 min", "2 h 15 min", "3 dias 4 h"."""
    if ms < _MINUTE_MS:
        return "menos de 1 min"
    days, rest = divmod(ms, _DAY_MS)
    hours, rest = divmod(rest, _HOUR_MS)
    minutes = rest // _MINUTE_MS
    if days:
        text = f"{days} dia" if days == 1 else f"{days} dias"
        return f"{text} {hours} h" if hours else text
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def evaluate_silence(last_ts_ms: int | None, now_ms: int, silence_ms: int,
                     counted_from_ms: int | None = None) -> Finding | None:
    """`silencio` when the last reading is `silence_ms` or more old.

    The key holds the last reading's instant, so one silence is one alert however often the
    rule runs (on any server), and the next silence (after readings resumed) is a new one. The
    quiet is counted from `counted_from_ms` when that is later (a server that was stopped could
    not be spoken to). A meter that never sent a reading has no silence to measure: None.
    """
    if silence_ms <= 0:
        raise ValueError("tempo de silêncio deve ser positivo")
    if last_ts_ms is None:
        return None
    quiet = now_ms - max(last_ts_ms, counted_from_ms if counted_from_ms is not None else last_ts_ms)
    if quiet < silence_ms:
        return None
    return Finding(SILENCIO, f"silencio:{last_ts_ms}", f"Medidor sem leituras há {format_duration(quiet)}")


def reset_finding(ts_ms: int, before_wh: float, after_wh: float, tz: ZoneInfo) -> Finding:
    """`reinicio_contador`: the cumulative counter went backwards at `ts_ms`.

    A reset, a replaced meter or a rollover must not show as negative energy or a huge spike
    (the first complaint users of other monitors make); this finding tells the user it happened
    and when, in local time. Every reset has the same cause, so repeats add to one open alert
    instead of each making its own (a counter reset on every reading would make thousands).
    """
    moment = (EPOCH + timedelta(milliseconds=ts_ms)).astimezone(tz)
    offset_min = int(moment.utcoffset().total_seconds()) // 60  # type: ignore[union-attr]
    sign = "-" if offset_min < 0 else "+"
    # The offset keeps the time unambiguous inside a repeated fall-back hour.
    when = f"{moment:%d/%m/%Y %H:%M} (UTC{sign}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d})"
    return Finding(
        REINICIO_CONTADOR,
        "reinicio",
        f"Contador do medidor voltou de {format_kwh(before_wh / 1000, 3)} para "
        f"{format_kwh(after_wh / 1000, 3)} em {when}",
    )
