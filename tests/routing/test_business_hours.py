"""Business hours as pure functions (routing.business_hours): hand-worked answers for Madrid's
office hours across a holiday, both DST changes, nights and weekends and spans of weeks, and
properties that hold for any schedule in zones with odd DST rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.business_hours import (
    add_business_seconds,
    business_seconds,
    is_open,
    next_open,
    overlapping,
    schedule_build,
)

MADRID = ZoneInfo("Europe/Madrid")
H = 3600
SAN_JOSE = date(2026, 3, 19)  # a Thursday, a holiday in the office's region
# Monday to Friday, 08:00 to 20:00.
OFFICE = schedule_build(time_zone="Europe/Madrid", intervals=[(day, 8 * H, 20 * H) for day in range(5)],
                        holidays=[SAN_JOSE])
# Spring forward on Sunday 29 March 2026 (02:00 -> 03:00), fall back on Sunday 25 October (03:00 -> 02:00).
SPRING, AUTUMN = date(2026, 3, 29), date(2026, 10, 25)


def madrid(*args: int) -> datetime:
    return datetime(*args, tzinfo=MADRID)


# --- hand-worked answers ---------------------------------------------------------------------------


def test_a_friday_night_chat_waits_for_monday_morning_across_the_spring_change():
    friday_night = madrid(2026, 3, 27, 21, 0)

    assert not is_open(OFFICE, friday_night)
    # Back at 08:00 on Monday, summer time by then: 06:00 UTC, not 07:00.
    assert next_open(OFFICE, friday_night) == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)
    assert add_business_seconds(OFFICE, friday_night, 60) == madrid(2026, 3, 30, 8, 1)
    # An hour on Friday evening, an hour on Monday morning.
    assert business_seconds(OFFICE, madrid(2026, 3, 27, 19, 0), madrid(2026, 3, 30, 9, 0)) == 2 * H


def test_the_edges_of_an_interval():
    assert is_open(OFFICE, madrid(2026, 3, 24, 8, 0))
    assert is_open(OFFICE, madrid(2026, 3, 24, 19, 59, 59, 999999))
    assert not is_open(OFFICE, madrid(2026, 3, 24, 20, 0))
    assert not is_open(OFFICE, madrid(2026, 3, 24, 7, 59, 59, 999999))
    # Open now: back "now"; and a deadline that ends exactly at the close is the close.
    tuesday = madrid(2026, 3, 24, 10, 0)
    assert next_open(OFFICE, tuesday) == tuesday
    assert add_business_seconds(OFFICE, tuesday, 10 * H) == madrid(2026, 3, 24, 20, 0)
    assert add_business_seconds(OFFICE, tuesday, 10 * H + 1) == madrid(2026, 3, 25, 8, 0, 1)


def test_a_holiday_is_closed_all_day():
    wednesday_evening = madrid(2026, 3, 18, 19, 30)

    assert not is_open(OFFICE, madrid(2026, 3, 19, 12, 0))
    assert next_open(OFFICE, madrid(2026, 3, 18, 21, 0)) == madrid(2026, 3, 20, 8, 0)
    # Half an hour on Wednesday, nothing on Thursday, the rest on Friday.
    assert add_business_seconds(OFFICE, wednesday_evening, H) == madrid(2026, 3, 20, 8, 30)
    # The week of the holiday has four days of twelve hours.
    assert business_seconds(OFFICE, madrid(2026, 3, 16), madrid(2026, 3, 23)) == 48 * H


def test_start_and_end_outside_the_hours():
    assert business_seconds(OFFICE, madrid(2026, 3, 28, 10, 0), madrid(2026, 3, 29, 18, 0)) == 0
    assert business_seconds(OFFICE, madrid(2026, 3, 29, 22, 0), madrid(2026, 3, 30, 8, 30)) == 1800
    assert business_seconds(OFFICE, madrid(2026, 3, 24, 21, 0), madrid(2026, 3, 25, 7, 0)) == 0


def test_spans_of_weeks():
    # Five weeks from Monday 2 March to Monday 6 April: 5 x 60 hours, less the holiday.
    assert business_seconds(OFFICE, madrid(2026, 3, 2), madrid(2026, 4, 6)) == (5 * 60 - 12) * H
    # And back again: 288 hours of office time after the first Monday's opening.
    assert add_business_seconds(OFFICE, madrid(2026, 3, 2, 8, 0), 288 * H) == madrid(2026, 4, 3, 20, 0)


def test_a_day_of_a_dst_change_lasts_as_long_as_it_really_does():
    always = schedule_build(time_zone="Europe/Madrid", intervals=[(day, 0, 24 * H) for day in range(7)])
    night = schedule_build(time_zone="Europe/Madrid", intervals=[(6, 0, 6 * H)])  # Sundays 00:00-06:00

    assert business_seconds(always, madrid(2026, 3, 29), madrid(2026, 3, 30)) == 23 * H
    assert business_seconds(always, madrid(2026, 10, 25), madrid(2026, 10, 26)) == 25 * H
    assert business_seconds(night, madrid(2026, 3, 29), madrid(2026, 3, 30)) == 5 * H
    assert business_seconds(night, madrid(2026, 10, 25), madrid(2026, 10, 26)) == 7 * H
    # Open every minute of the week: the change changes nothing but the clock.
    assert add_business_seconds(always, madrid(2026, 3, 29, 1, 0), 2 * H) == madrid(2026, 3, 29, 4, 0)


def test_wall_times_the_change_skips_or_repeats():
    # 02:30-05:00 on the spring Sunday opens when the clock jumps to 03:00: two hours.
    skipped = schedule_build(time_zone="Europe/Madrid", intervals=[(6, int(2.5 * H), 5 * H)])
    assert next_open(skipped, madrid(2026, 3, 29)) == madrid(2026, 3, 29, 3, 0)
    assert business_seconds(skipped, madrid(2026, 3, 29), madrid(2026, 3, 30)) == 2 * H
    # 02:00-02:30 on the autumn Sunday is open through both passes of the repeated hour.
    repeated = schedule_build(time_zone="Europe/Madrid", intervals=[(6, 2 * H, int(2.5 * H))])
    assert business_seconds(repeated, madrid(2026, 10, 25), madrid(2026, 10, 26)) == H
    assert is_open(repeated, datetime(2026, 10, 25, 0, 15, tzinfo=UTC))  # 02:15 summer time
    assert not is_open(repeated, datetime(2026, 10, 25, 0, 45, tzinfo=UTC))  # 02:45 summer time
    assert is_open(repeated, datetime(2026, 10, 25, 1, 15, tzinfo=UTC))  # 02:15 winter time


def test_an_overnight_opening_is_two_intervals_that_meet_at_midnight():
    nights = schedule_build(time_zone="Europe/Madrid", intervals=[(4, 22 * H, 24 * H), (5, 0, 6 * H)])

    assert is_open(nights, madrid(2026, 3, 28, 0, 0))
    assert business_seconds(nights, madrid(2026, 3, 27, 23, 0), madrid(2026, 3, 28, 1, 0)) == 2 * H
    assert add_business_seconds(nights, madrid(2026, 3, 27, 23, 30), H) == madrid(2026, 3, 28, 0, 30)
    assert next_open(nights, madrid(2026, 3, 28, 6, 0)) == madrid(2026, 4, 3, 22, 0)


def test_without_a_schedule_it_is_calendar_time():
    start, end = madrid(2026, 3, 27, 21, 0), madrid(2026, 3, 30, 9, 0)

    assert is_open(None, start) and next_open(None, start) == start
    assert business_seconds(None, start, end) == (end - start).total_seconds()
    assert add_business_seconds(None, start, 90) == start + timedelta(seconds=90)


def test_times_run_backwards_as_negative_and_hours_that_never_open_give_none():
    start, end = madrid(2026, 3, 27, 19, 0), madrid(2026, 3, 30, 9, 0)
    assert business_seconds(OFFICE, end, start) == -business_seconds(OFFICE, start, end) == -2 * H

    never = schedule_build(time_zone="UTC", intervals=[])
    assert next_open(never, start) is None and add_business_seconds(never, start, 1) is None
    assert business_seconds(never, start, end) == 0
    assert add_business_seconds(never, start, 0) == start
    with pytest.raises(ValueError):
        add_business_seconds(OFFICE, start, -1)


def test_building_a_schedule_checks_its_rows():
    with pytest.raises(ZoneInfoNotFoundError):
        schedule_build(time_zone="Europe/Madird", intervals=[])
    with pytest.raises(ValueError):
        schedule_build(time_zone="UTC", intervals=[(7, 0, H)])
    with pytest.raises(ValueError):
        schedule_build(time_zone="UTC", intervals=[(0, 0, 25 * H)])
    touching = schedule_build(time_zone="UTC", intervals=[(0, 8 * H, 12 * H), (0, 12 * H, 14 * H)])
    assert touching.week[0] == ((8 * H, 14 * H),)


def test_overlapping_rows_are_found_on_the_same_weekday_only():
    rows = [(0, 8 * H, 14 * H), (0, 12 * H, 20 * H), (1, 8 * H, 14 * H), (0, 20 * H, 24 * H), (1, 13 * H, 15 * H)]

    assert sorted(overlapping(rows)) == [(0, 1), (2, 4)]


# --- properties ------------------------------------------------------------------------------------

ZONES = ["Europe/Madrid", "America/New_York", "Australia/Lord_Howe", "America/Havana", "Asia/Kolkata", "UTC"]
MINUTE = 60
WINDOW_START = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW_MINUTES = 366 * 24 * 60


@st.composite
def schedules(draw: st.DrawFn) -> tuple:
    rows = []
    for _ in range(draw(st.integers(min_value=0, max_value=8))):
        opens = draw(st.integers(min_value=0, max_value=24 * 60 - 1))
        closes = draw(st.integers(min_value=opens + 1, max_value=24 * 60))
        rows.append((draw(st.integers(min_value=0, max_value=6)), opens * MINUTE, closes * MINUTE))
    holidays = draw(st.lists(st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31)), max_size=6))
    zone = draw(st.sampled_from(ZONES))
    return schedule_build(time_zone=zone, intervals=rows, holidays=holidays), rows, set(holidays), zone


def instants(minutes_only: bool = False) -> st.SearchStrategy[datetime]:
    minutes = st.integers(min_value=0, max_value=WINDOW_MINUTES)
    if minutes_only:
        return minutes.map(lambda minute: WINDOW_START + timedelta(minutes=minute))
    return st.tuples(minutes, st.integers(min_value=0, max_value=60 * 10**6 - 1)).map(
        lambda parts: WINDOW_START + timedelta(minutes=parts[0], microseconds=parts[1]))


def micros(seconds: float) -> int:
    return round(seconds * 10**6)


@settings(max_examples=200, deadline=None)
@given(built=schedules(), a=instants(), b=instants(), c=instants())
def test_spans_add_up(built, a, b, c):
    schedule = built[0]

    assert micros(business_seconds(schedule, a, b)) + micros(business_seconds(schedule, b, c)) == micros(
        business_seconds(schedule, a, c))


@settings(max_examples=200, deadline=None)
@given(built=schedules(), start=instants(), seconds=st.integers(min_value=0, max_value=40 * 24 * 3600))
def test_adding_business_seconds_is_the_inverse_of_counting_them(built, start, seconds):
    schedule = built[0]
    deadline = add_business_seconds(schedule, start, seconds)
    if deadline is None:
        assert business_seconds(schedule, start, start + timedelta(days=366)) < seconds
        return

    assert deadline >= start and micros(business_seconds(schedule, start, deadline)) == seconds * 10**6
    if seconds:  # and it is the first such instant
        assert micros(business_seconds(schedule, start, deadline - timedelta(microseconds=1))) < seconds * 10**6


@settings(max_examples=200, deadline=None)
@given(built=schedules(), at=instants())
def test_open_and_back_agree_with_the_count(built, at):
    schedule = built[0]
    a_moment = timedelta(microseconds=1)

    assert is_open(schedule, at) == (business_seconds(schedule, at, at + a_moment) > 0)
    back = next_open(schedule, at)
    if back is not None:
        assert back >= at and is_open(schedule, back) and business_seconds(schedule, at, back) == 0


def wall_clock_open(rows: list, holidays: set, zone: ZoneInfo, at: datetime) -> bool:
    """The definition, read off the wall clock one instant at a time."""
    local = at.astimezone(zone)
    second = local.hour * 3600 + local.minute * 60 + local.second
    return local.date() not in holidays and any(
        weekday == local.weekday() and opens <= second < closes for weekday, opens, closes in rows)


@settings(max_examples=60, deadline=None)
@given(built=schedules(), start=instants(minutes_only=True),
       minutes=st.integers(min_value=0, max_value=3 * 24 * 60))
def test_the_count_is_the_wall_clock_read_minute_by_minute(built, start, minutes):
    # Every zone here changes its offset on a whole minute, and every interval is in whole
    # minutes, so each minute is open or closed throughout.
    schedule, rows, holidays, zone = built
    end = start + timedelta(minutes=minutes)
    expected = sum(MINUTE for minute in range(minutes)
                   if wall_clock_open(rows, holidays, ZoneInfo(zone), start + timedelta(minutes=minute)))

    assert business_seconds(schedule, start, end) == expected


@st.composite
def night_schedules(draw: st.DrawFn) -> tuple:
    """Intervals every day between 00:00 and 05:00, where the DST changes are."""
    rows = []
    for weekday in range(7):
        for _ in range(draw(st.integers(min_value=0, max_value=2))):
            opens = draw(st.integers(min_value=0, max_value=4 * 60))
            closes = draw(st.integers(min_value=opens + 1, max_value=5 * 60))
            rows.append((weekday, opens * MINUTE, closes * MINUTE))
    zone = draw(st.sampled_from(ZONES))
    return schedule_build(time_zone=zone, intervals=rows), rows, set(), zone


@settings(max_examples=40, deadline=None)
@given(built=night_schedules())
def test_the_change_days_read_off_the_wall_clock_too(built):
    # The minute-by-minute count again, over each zone's DST changes of 2026.
    schedule, rows, holidays, zone = built
    for day in (SPRING, AUTUMN, date(2026, 3, 8), date(2026, 11, 1), date(2026, 4, 5), date(2026, 10, 4)):
        begin = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=14)
        expected = sum(MINUTE for minute in range(48 * 60)
                       if wall_clock_open(rows, holidays, ZoneInfo(zone), begin + timedelta(minutes=minute)))
        assert business_seconds(schedule, begin, begin + timedelta(hours=48)) == expected
