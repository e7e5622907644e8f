"""Consumption rollups of one meter, kept up to date on ingest so that no query scans readings.

Consumption is the rise of the cumulative counter between consecutive readings in ts order.
Each pair (t1, e1) -> (t2, e2) contributes delta = e2 - e1, or 0 when the counter went back
(a reset: consumption goes on from the new base, never negative), spread linearly over
[t1, t2) into 15-minute UTC-aligned buckets, and the same amounts to the meter's local days.
The columns feed pairs through flows.py, which may give a pair another delta (a glitch's
return) and sends a bidirectional counter's drops to a second rollup, of exported energy.
A pure data structure: no I/O, no locks (the store serialises access).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone, tzinfo

# Every UTC offset in use since the 1980s (India +05:30, Nepal +05:45, Chatham +12:45) is a
# multiple of 15 minutes, so a local hour or day is a sum of whole 15-minute UTC buckets.
BUCKET_MS = 900_000
# A pair further apart than this means the meter was silent: its energy is still counted
# (spread linearly, the counter proves it was consumed) but its time is not "covered".
# An hour plus 5 minutes of clock jitter: utility meters and the example store report hourly,
# and their hours are covered; a 10-s agent silent for over an hour is not.
MAX_COVERED_GAP_MS = 65 * 60_000
# A pair longer than this (a meter silent for a week, or a clock set years off) is kept as one
# span and apportioned at query time, instead of as hundreds of thousands of buckets.
LONG_SPAN_MS = 7 * 86_400_000

_ONE_DAY = timedelta(days=1)


def local_midnight_ms(day: date, tz: tzinfo) -> int:
    """The first instant of `day` in `tz`. When midnight falls in a DST gap (São Paulo until
    2019 moved clocks 00:00 -> 01:00), fold=0 reads it with the earlier offset, which lands on
    the transition itself: the day's real first instant (PEP 495)."""
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()) * 1000


def check_aligned(start_ms: int, end_ms: int) -> None:
    """ValueError unless both bounds fall on bucket edges: a part of a bucket is unknowable."""
    if start_ms % BUCKET_MS or end_ms % BUCKET_MS:
        raise ValueError(f"início e fim devem ser múltiplos de {BUCKET_MS} ms (15 min)")


def positive(wh: float, covered: int) -> tuple[float, int]:
    # Adding and later removing the same float leaves a drift of a few ulps: a total that should
    # be 0 may read -1e-13, which would show as a negative bar.
    return (wh if wh > 0.0 else 0.0), (covered if covered > 0 else 0)


def apportion_span(t1: int, t2: int, wh: float, first: date, last: date, tz: tzinfo, out: dict) -> None:
    """Add a long span's energy to the local days in [first, last] it covers, pro rata of time."""
    try:
        day = max(first, datetime.fromtimestamp(t1 // 1000, tz).date())
        end = min(last, datetime.fromtimestamp((t2 - 1) // 1000, tz).date())
        while day <= end:
            lo, hi = local_midnight_ms(day, tz), local_midnight_ms(day + _ONE_DAY, tz)
            part = min(t2, hi) - max(t1, lo)
            if part > 0:
                entry = out.setdefault(day, [0.0, 0])
                entry[0] += wh * part / (t2 - t1)
            day += _ONE_DAY
    except (OverflowError, ValueError, OSError):
        return  # a span reaching past year 9999 has no local days to report


class MeterRollup:
    """15-minute buckets, long spans and local-day sums of one meter's consumption."""

    __slots__ = ("_buckets", "_spans", "_days", "_tz", "_day_lo", "_day_hi", "_day_entry")

    def __init__(self, tz: tzinfo = timezone.utc) -> None:
        self._tz = tz
        self.clear()

    def clear(self) -> None:
        self._buckets: dict[int, list] = {}  # bucket -> [wh, covered ms]
        self._spans: dict[tuple[int, int], list] = {}  # (t1, t2) -> [wh, pairs]
        self._days: dict[date, list] = {}  # local day -> [wh, covered ms]
        # The bucket range [lo, hi) of the last local day touched and its entry: consecutive
        # updates nearly always land in the same day and then need no time-zone arithmetic.
        self._day_lo = self._day_hi = 0
        self._day_entry: list = [0.0, 0]

    @property
    def tz(self) -> tzinfo:
        return self._tz

    def _cache_day(self, bucket: int) -> None:
        start = bucket * BUCKET_MS
        try:
            day = datetime.fromtimestamp(start // 1000, self._tz).date()
            lo, hi = local_midnight_ms(day, self._tz), local_midnight_ms(day + _ONE_DAY, self._tz)
        except (OverflowError, ValueError, OSError):
            # Beyond year 9999 there are no dates: such buckets count in energy() only.
            self._day_lo, self._day_hi, self._day_entry = bucket, bucket + 1, [0.0, 0]
            return
        if lo <= start < hi and lo % BUCKET_MS == 0 and hi % BUCKET_MS == 0:
            self._day_lo, self._day_hi = lo // BUCKET_MS, hi // BUCKET_MS
        else:  # an offset that is not a multiple of 15 min (pre-1980 history): no caching
            self._day_lo, self._day_hi = bucket, bucket + 1
        entry = self._days.get(day)
        if entry is None:
            entry = self._days[day] = [0.0, 0]
        self._day_entry = entry

    def _add(self, bucket: int, wh: float, covered: int) -> None:
        entry = self._buckets.get(bucket)
        if entry is None:
            entry = self._buckets[bucket] = [0.0, 0]
        entry[0] += wh
        entry[1] += covered
        if not self._day_lo <= bucket < self._day_hi:
            self._cache_day(bucket)
        day = self._day_entry
        day[0] += wh
        day[1] += covered

    def add_pair(self, t1: int, e1: float, t2: int, e2: float, sign: int = 1) -> None:
        """Add (sign=1) or remove (sign=-1) the contribution of consecutive readings t1 <= t2."""
        delta = e2 - e1
        self.add_delta(t1, t2, delta if delta > 0.0 else 0.0, sign)

    def add_delta(self, t1: int, t2: int, delta: float, sign: int = 1) -> None:
        """Add (sign=1) or remove (sign=-1) `delta` Wh (>= 0) spread over [t1, t2], and the time
        the pair covers (servidor/store/readings/flows.py decides what a pair carries)."""
        if sign < 0:
            delta = -delta
        span = t2 - t1
        if span == 0:
            self._add(t1 // BUCKET_MS, delta, 0)
            return
        if span > LONG_SPAN_MS:
            entry = self._spans.get((t1, t2))
            if entry is None:
                entry = self._spans[(t1, t2)] = [0.0, 0]
            entry[0] += delta
            entry[1] += sign
            if entry[1] == 0:
                del self._spans[(t1, t2)]
            return
        covered = sign if span <= MAX_COVERED_GAP_MS else 0
        first, last = t1 // BUCKET_MS, (t2 - 1) // BUCKET_MS
        if first == last:
            self._add(first, delta, covered * span)
            return
        for bucket in range(first, last + 1):
            lo = bucket * BUCKET_MS
            part = min(t2, lo + BUCKET_MS) - max(t1, lo)
            self._add(bucket, delta * part / span, covered * part)

    def add_series(self, ts, energia, start: int = 1, stop: int | None = None) -> None:
        """Add the pairs (i-1, i) for start <= i < stop of the ts-ordered arrays: the bulk path
        of recovery and of in-order batches, summing each bucket locally before touching dicts."""
        first = max(start, 1)
        stop = len(ts) if stop is None else min(stop, len(ts))
        if first >= stop:
            return
        if stop - first <= 2:  # a pair or two: slicing the arrays would cost more than it saves
            for i in range(first, stop):
                self.add_pair(ts[i - 1], energia[i - 1], ts[i], energia[i])
            return
        add = self._add
        current, wh, covered = -1, 0.0, 0
        for t1, t2, e1, e2 in zip(ts[first - 1:stop - 1], ts[first:stop], energia[first - 1:stop - 1],
                                  energia[first:stop]):
            bucket = t1 // BUCKET_MS
            if t2 <= (bucket + 1) * BUCKET_MS:  # within one bucket, hence covered
                if bucket != current:
                    if current >= 0:
                        add(current, wh, covered)
                    current, wh, covered = bucket, 0.0, 0
                if e2 > e1:
                    wh += e2 - e1
                covered += t2 - t1
            else:
                self.add_pair(t1, e1, t2, e2)
        if current >= 0:
            add(current, wh, covered)

    def set_timezone(self, tz: tzinfo) -> None:
        """Regroup the buckets into local days of `tz` (day boundaries fall on bucket edges)."""
        self._tz = tz
        self._days = {}
        self._day_lo = self._day_hi = 0
        for bucket in sorted(self._buckets):
            wh, covered = self._buckets[bucket]
            if not self._day_lo <= bucket < self._day_hi:
                self._cache_day(bucket)
            self._day_entry[0] += wh
            self._day_entry[1] += covered

    def energy(self, start_ms: int, end_ms: int) -> tuple[float, int]:
        """(Wh, covered ms) in [start, end); both must be multiples of BUCKET_MS."""
        check_aligned(start_ms, end_ms)
        wh, covered = 0.0, 0
        lo, hi = start_ms // BUCKET_MS, end_ms // BUCKET_MS
        buckets = self._buckets
        if hi - lo <= len(buckets):
            for bucket in range(lo, hi):
                entry = buckets.get(bucket)
                if entry is not None:
                    wh += entry[0]
                    covered += entry[1]
        else:
            for bucket, entry in buckets.items():
                if lo <= bucket < hi:
                    wh += entry[0]
                    covered += entry[1]
        for (t1, t2), (span_wh, _) in self._spans.items():
            part = min(t2, end_ms) - max(t1, start_ms)
            if part > 0:
                wh += span_wh * part / (t2 - t1)
        return positive(wh, covered)

    def day_energy(self, first: date, last: date) -> dict[date, tuple[float, int]]:
        """(Wh, covered ms) per local day in [first, last], for the days with data."""
        out: dict[date, list] = {}
        if last < first:
            return {}
        if (last - first).days + 1 <= len(self._days):
            day = first
            while day <= last:
                entry = self._days.get(day)
                if entry is not None:
                    out[day] = list(entry)
                day += _ONE_DAY
        else:
            out = {day: list(entry) for day, entry in self._days.items() if first <= day <= last}
        for (t1, t2), (span_wh, _) in self._spans.items():
            apportion_span(t1, t2, span_wh, first, last, self._tz, out)
        return {day: positive(*out[day]) for day in sorted(out)}

