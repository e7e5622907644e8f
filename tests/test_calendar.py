"""Local calendar boundaries: DST days of 23 and 25 hours, missing midnights, odd-offset zones."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servidor.billing.calendar import (
    INTERVALS,
    MAX_BUCKETS,
    Bucket,
    day_bounds,
    local_buckets,
    local_date,
    month_bounds,
    month_of,
    parse_instant,
    parse_month,
)

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
LISBON = ZoneInfo("Europe/Lisbon")
KOLKATA = ZoneInfo("Asia/Kolkata")
KATHMANDU = ZoneInfo("Asia/Kathmandu")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
HOUR = 3_600_000
QUARTER = 900_000


def utc_ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp()) * 1000


def hours(bounds: tuple[int, int]) -> float:
    return (bounds[1] - bounds[0]) / HOUR


# --- days ---------------------------------------------------------------------------------------

def test_sao_paulo_2018_dst_start_day_has_23_hours_and_starts_at_1am():
    start, end = day_bounds(SAO_PAULO, date(2018, 11, 4))
    # Midnight did not exist: clocks went from 00:00-03:00 to 01:00-02:00 at 03:00 UTC.
    assert start == utc_ms(2018, 11, 4, 3)
    assert end == utc_ms(2018, 11, 5, 2)
    assert hours((start, end)) == 23


def test_sao_paulo_2019_dst_end_day_has_25_hours():
    start, end = day_bounds(SAO_PAULO, date(2019, 2, 16))
    assert start == utc_ms(2019, 2, 16, 2)
    assert end == utc_ms(2019, 2, 17, 3)
    assert hours((start, end)) == 25


def test_sao_paulo_ordinary_day_after_2019_has_24_hours_at_utc_minus_3():
    assert day_bounds(SAO_PAULO, date(2026, 11, 22)) == (utc_ms(2026, 11, 22, 3), utc_ms(2026, 11, 23, 3))


def test_lisbon_last_sunday_of_march_has_23_hours_and_of_october_25():
    assert hours(day_bounds(LISBON, date(2026, 3, 29))) == 23
    assert hours(day_bounds(LISBON, date(2026, 10, 25))) == 25
    assert hours(day_bounds(LISBON, date(2026, 3, 28))) == 24


def test_kolkata_day_starts_at_half_past_utc():
    assert day_bounds(KOLKATA, date(2026, 11, 22)) == (
        utc_ms(2026, 11, 21, 18, 30), utc_ms(2026, 11, 22, 18, 30))


def test_kathmandu_day_starts_at_quarter_past_utc():
    start, end = day_bounds(KATHMANDU, date(2026, 11, 22))
    assert start == utc_ms(2026, 11, 21, 18, 15)
    assert end - start == 24 * HOUR
    assert start % QUARTER == 0


def test_day_buckets_over_sao_paulo_dst_weekend_carry_true_lengths():
    de = day_bounds(SAO_PAULO, date(2018, 11, 3))[0]
    ate = day_bounds(SAO_PAULO, date(2018, 11, 5))[1]
    buckets = local_buckets(SAO_PAULO, "dia", de, ate)
    assert [b.rotulo for b in buckets] == ["2018-11-03", "2018-11-04", "2018-11-05"]
    assert [(b.fim_ms - b.inicio_ms) / HOUR for b in buckets] == [24, 23, 24]


def test_a_day_the_zone_skipped_produces_no_bucket():
    apia = ZoneInfo("Pacific/Apia")  # went from 2011-12-29 straight to 2011-12-31
    de = day_bounds(apia, date(2011, 12, 29))[0]
    ate = day_bounds(apia, date(2011, 12, 31))[1]
    assert [b.rotulo for b in local_buckets(apia, "dia", de, ate)] == ["2011-12-29", "2011-12-31"]
    start, end = day_bounds(apia, date(2011, 12, 30))
    assert start == end


# --- hours --------------------------------------------------------------------------------------

def test_fall_back_hour_appears_twice_with_different_offsets():
    buckets = local_buckets(SAO_PAULO, "hora", *day_bounds(SAO_PAULO, date(2019, 2, 16)))
    assert len(buckets) == 25
    assert [b.rotulo for b in buckets[-2:]] == ["2019-02-16T23:00-02:00", "2019-02-16T23:00-03:00"]


def test_spring_forward_skips_the_missing_local_hour():
    buckets = local_buckets(SAO_PAULO, "hora", *day_bounds(SAO_PAULO, date(2018, 11, 4)))
    assert len(buckets) == 23
    assert buckets[0].rotulo == "2018-11-04T01:00-02:00"
    assert all(b.fim_ms - b.inicio_ms == HOUR for b in buckets)


def test_lisbon_hours_on_dst_days_are_23_and_25():
    assert len(local_buckets(LISBON, "hora", *day_bounds(LISBON, date(2026, 3, 29)))) == 23
    october = local_buckets(LISBON, "hora", *day_bounds(LISBON, date(2026, 10, 25)))
    assert len(october) == 25
    assert [b.rotulo for b in october[1:3]] == ["2026-10-25T01:00+01:00", "2026-10-25T01:00+00:00"]


def test_kolkata_hours_start_at_half_past_utc_with_label_offset():
    buckets = local_buckets(KOLKATA, "hora", utc_ms(2026, 11, 22, 9, 0), utc_ms(2026, 11, 22, 11, 0))
    assert buckets[0] == Bucket(utc_ms(2026, 11, 22, 8, 30), utc_ms(2026, 11, 22, 9, 30),
                                "2026-11-22T14:00+05:30")
    assert [b.inicio_ms % HOUR for b in buckets] == [30 * 60_000] * 3


def test_kathmandu_hours_start_at_quarter_past_utc():
    buckets = local_buckets(KATHMANDU, "hora", utc_ms(2026, 11, 22, 0, 0), utc_ms(2026, 11, 22, 1, 0))
    assert [b.rotulo for b in buckets] == ["2026-11-22T05:00+05:45", "2026-11-22T06:00+05:45"]
    assert buckets[0].inicio_ms == utc_ms(2026, 11, 21, 23, 15)


def test_half_hour_dst_shift_gives_a_30_minute_bucket_with_the_new_offset():
    buckets = local_buckets(LORD_HOWE, "hora", *day_bounds(LORD_HOWE, date(2026, 10, 4)))
    assert [(b.rotulo, (b.fim_ms - b.inicio_ms) // 60_000) for b in buckets[1:4]] == [
        ("2026-10-04T01:00+10:30", 60), ("2026-10-04T02:30+11:00", 30), ("2026-10-04T03:00+11:00", 60)]


@pytest.mark.parametrize(("year", "expected"), [(2026, 8760), (2024, 8784)])
@pytest.mark.parametrize("zone", ["America/Sao_Paulo", "Europe/Lisbon", "Asia/Kathmandu"])
def test_a_year_of_hours_is_8760_or_8784_buckets(zone, year, expected):
    tz = ZoneInfo(zone)
    de = month_bounds(tz, year, 1)[0]
    ate = month_bounds(tz, year + 1, 1)[0]
    assert len(local_buckets(tz, "hora", de, ate)) == expected


# --- months -------------------------------------------------------------------------------------

def test_month_buckets_are_labelled_and_start_at_local_midnight():
    de, ate = utc_ms(2026, 1, 15), utc_ms(2026, 3, 2)
    buckets = local_buckets(SAO_PAULO, "mes", de, ate)
    assert [b.rotulo for b in buckets] == ["2026-01", "2026-02", "2026-03"]
    assert buckets[1].inicio_ms == utc_ms(2026, 2, 1, 3)
    assert (buckets[1].fim_ms - buckets[1].inicio_ms) == 28 * 24 * HOUR


def test_month_with_dst_start_is_one_hour_short():
    start, end = month_bounds(LISBON, 2026, 3)
    assert end - start == 31 * 24 * HOUR - HOUR


def test_local_date_and_month_of_use_the_zone_not_utc():
    ts = utc_ms(2026, 12, 1, 2)  # still 30 November, 23:00, in Sao Paulo
    assert local_date(SAO_PAULO, ts) == date(2026, 11, 30)
    assert month_of(SAO_PAULO, ts) == (2026, 11)
    assert month_of(KOLKATA, ts) == (2026, 12)


# --- errors -------------------------------------------------------------------------------------

def test_unknown_interval_is_refused_in_portuguese():
    with pytest.raises(ValueError, match="intervalo desconhecido"):
        local_buckets(SAO_PAULO, "semana", 0, HOUR)


def test_empty_or_reversed_range_is_refused():
    with pytest.raises(ValueError, match="anterior"):
        local_buckets(SAO_PAULO, "dia", HOUR, HOUR)


def test_too_many_buckets_is_refused():
    de = utc_ms(2020, 1, 1)
    with pytest.raises(ValueError, match=str(MAX_BUCKETS)):
        local_buckets(SAO_PAULO, "hora", de, de + (MAX_BUCKETS + 5) * HOUR)


def test_month_bounds_refuses_month_13():
    with pytest.raises(ValueError, match="mês inválido"):
        month_bounds(SAO_PAULO, 2026, 13)


# --- parsing ------------------------------------------------------------------------------------

def test_parse_instant_takes_epoch_milliseconds():
    assert parse_instant("1795356000000", SAO_PAULO) == 1_795_356_000_000


def test_parse_instant_date_is_local_midnight_and_end_is_the_next_one():
    assert parse_instant("2026-11-01", SAO_PAULO) == utc_ms(2026, 11, 1, 3)
    assert parse_instant("2026-11-30", SAO_PAULO, end=True) == utc_ms(2026, 12, 1, 3)


def test_parse_instant_date_on_a_missing_midnight_is_the_first_instant_of_the_day():
    assert parse_instant("2018-11-04", SAO_PAULO) == utc_ms(2018, 11, 4, 3)


def test_parse_instant_with_offset_or_z_is_absolute():
    assert parse_instant("2026-11-22T14:00-03:00", KOLKATA) == utc_ms(2026, 11, 22, 17)
    assert parse_instant("2026-11-22T14:00Z", SAO_PAULO) == utc_ms(2026, 11, 22, 14)


def test_parse_instant_naive_datetime_is_read_in_the_zone():
    assert parse_instant("2026-11-22T14:00", SAO_PAULO) == utc_ms(2026, 11, 22, 17)
    assert parse_instant("2026-11-22 14:00:00", KATHMANDU) == utc_ms(2026, 11, 22, 8, 15)


def test_parse_instant_naive_time_in_a_gap_is_the_moment_clocks_jumped_to():
    assert parse_instant("2018-11-04T00:30", SAO_PAULO) == utc_ms(2018, 11, 4, 3)


def test_parse_instant_naive_repeated_time_is_its_first_occurrence():
    assert parse_instant("2019-02-16T23:30", SAO_PAULO) == utc_ms(2019, 2, 17, 1, 30)


@pytest.mark.parametrize("text", [
    "", "ontem", "2026-13-01", "2026-02-30", "20261122T1400", "2026-11-22T25:00",
    "1234567890123456", "-5", "1e12", "2026-11", "１２３",
])
def test_parse_instant_refuses_what_is_not_a_date(text):
    with pytest.raises(ValueError):
        parse_instant(text, SAO_PAULO)


def test_parse_month_reads_year_and_month():
    assert parse_month("2026-11") == (2026, 11)
    for text in ("2026-13", "2026-1", "11/2026", "2026-00"):
        with pytest.raises(ValueError, match="mês"):
            parse_month(text)


# --- properties ---------------------------------------------------------------------------------

ZONES = ["America/Sao_Paulo", "Europe/Lisbon", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe",
         "Pacific/Chatham", "America/Havana", "America/New_York", "UTC", "Pacific/Apia"]
START_2000 = utc_ms(2000, 1, 1)
END_2040 = utc_ms(2040, 1, 1)
# Range lengths that keep every example well under MAX_BUCKETS and the run fast.
SPAN = {"hora": 40 * 24 * HOUR, "dia": 400 * 24 * HOUR, "mes": 6 * 366 * 24 * HOUR}


@settings(max_examples=150, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    intervalo=st.sampled_from(INTERVALS),
    de=st.integers(START_2000, END_2040),
    span_fraction=st.floats(0, 1),
)
def test_buckets_are_contiguous_cover_the_range_and_align_to_15_minutes(zone, intervalo, de, span_fraction):
    tz = ZoneInfo(zone)
    ate = de + 1 + int(span_fraction * SPAN[intervalo])
    buckets = local_buckets(tz, intervalo, de, ate)
    assert buckets[0].inicio_ms <= de < buckets[0].fim_ms
    assert buckets[-1].inicio_ms < ate <= buckets[-1].fim_ms
    for previous, current in zip(buckets, buckets[1:]):
        assert previous.fim_ms == current.inicio_ms
    for bucket in buckets:
        assert bucket.inicio_ms < bucket.fim_ms
        assert bucket.inicio_ms % QUARTER == 0 and bucket.fim_ms % QUARTER == 0


@settings(max_examples=100, deadline=None)
@given(zone=st.sampled_from(ZONES), ts=st.integers(START_2000, END_2040))
def test_day_bucket_label_is_the_local_date_of_every_instant_inside(zone, ts):
    tz = ZoneInfo(zone)
    (bucket,) = local_buckets(tz, "dia", ts, ts + 1)
    assert bucket.rotulo == local_date(tz, ts).isoformat()
    assert local_date(tz, bucket.inicio_ms) == local_date(tz, bucket.fim_ms - 1) == local_date(tz, ts)
