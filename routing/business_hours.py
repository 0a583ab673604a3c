"""Business hours as plain data and pure functions: when a queue's team is in.

A `Schedule` is a weekly timetable in one IANA time zone (one or more open intervals per
weekday, Monday first, in seconds from local midnight; an interval may close at 24:00) and
the dates on which it is closed all day (holidays). Nothing here reads the database: the
admin's rows become a `Schedule` in `routing.schedules` (`schedule_for_queue`, cached per
process), and the functions below answer over it:

- `is_open(schedule, at)`: whether the team is in at that instant;
- `next_open(schedule, at)`: when the team is back (`at` itself when open now), or None
  when the schedule opens nowhere within `SEARCH_DAYS`;
- `business_seconds(schedule, start, end)`: the open time between two instants;
- `add_business_seconds(schedule, start, seconds)`: the instant `seconds` of open time
  after `start` (an SLA deadline), or None when that is beyond `SEARCH_DAYS`.

Every function takes `schedule=None` for a queue without hours: always open, calendar time.

What "open" means: the team is in at an instant when the wall clock in the schedule's zone
reads a time inside one of the intervals of that local date (and the date is no holiday).
So a day of a DST change lasts 23 or 25 hours and an interval open over the change counts
the hours that really passed; an interval the spring change skips part of is that much
shorter (02:30-05:00 opens at 03:00), and one the autumn change repeats part of is open
through both passes of the repeated hour.

How it stays fast. Each local date is turned once into its open spans, as integer
microseconds since the epoch, cached on the schedule (so millions of calls over the same
weeks build each day once); the answers are sums over those spans: O(days spanned), exact to
the microsecond, with no allocation per call. A date runs from the first instant its wall
clock reads 00:00 (or later, where midnight is skipped) to the next date's; on the rare
date where the offset changes, each stretch of constant offset maps the intervals on its own.

An overnight opening (22:00 to 06:00) is two intervals, 22:00-24:00 on one day and
00:00-06:00 on the next: they meet at midnight and count as one stretch of open time. A
holiday closes its local date from 00:00 to 24:00; an interval of the day before that runs
to 24:00 is not touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

DAY_SECONDS = 24 * 3600
WEEKDAYS = 7  # Monday is 0, as in date.weekday()
# How far next_open and add_business_seconds look before giving up: a schedule open
# nowhere in this many days (every day a holiday) is as good as never open.
SEARCH_DAYS = 366
_CACHED_DAYS = 4096  # per schedule; more than ten years of days before the cache starts over

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_MICROSECONDS = 1_000_000

Interval = tuple[int, int]  # (opens, closes): seconds from local midnight, 0 <= opens < closes <= 86400
# A day as the functions read it: (starts, ends, open spans), all microseconds since the epoch.
_Day = tuple[int, int, tuple[tuple[int, int], ...]]


@dataclass(frozen=True, eq=False)
class Schedule:
    """A weekly timetable in a time zone, with holidays. Build it with `schedule_build`;
    `key` says what it is, so two loads of the same rows can share one (and its cache)."""

    time_zone: str
    week: tuple[tuple[Interval, ...], ...]  # seven entries, Monday first; each sorted, disjoint
    holidays: frozenset[date] = frozenset()
    _zone: ZoneInfo = field(init=False, repr=False)
    _days: dict[int, _Day] = field(init=False, repr=False, default_factory=dict)
    _last: list[tuple[int, int, int] | None] = field(init=False, repr=False, default_factory=lambda: [None])

    def __post_init__(self) -> None:
        if len(self.week) != WEEKDAYS:
            raise ValueError("A week has seven days, Monday first.")
        object.__setattr__(self, "_zone", ZoneInfo(self.time_zone))

    @property
    def key(self) -> tuple:
        return (self.time_zone, self.week, self.holidays)

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    # --- days, built once and cached ------------------------------------------------------

    def _day(self, ordinal: int) -> _Day:
        day = self._days.get(ordinal)
        if day is None:
            if len(self._days) >= _CACHED_DAYS:
                self._days.clear()
            day = self._days[ordinal] = self._day_build(ordinal)
        return day

    def _day_build(self, ordinal: int) -> _Day:
        local = date.fromordinal(ordinal)
        starts, ends = self._first_at(local), self._first_at(local + timedelta(days=1))
        intervals = () if local in self.holidays else self.week[local.weekday()]
        if not intervals:
            return starts, ends, ()
        midnight = (datetime(local.year, local.month, local.day) - _NAIVE_EPOCH) // _MICROSECOND  # wall clock
        spans: list[tuple[int, int]] = []
        for begin, end, offset in self._stretches(starts, ends):
            # On a stretch of constant offset, wall clock = instant + offset.
            for opens, closes in intervals:
                low = max(begin, midnight + opens * _MICROSECONDS - offset)
                high = min(end, midnight + closes * _MICROSECONDS - offset)
                if low < high:
                    spans.append((low, high))
        return starts, ends, _merged(spans)

    def _offset(self, instant: int) -> int:
        return _instant(instant).astimezone(self._zone).utcoffset() // _MICROSECOND

    def _stretches(self, starts: int, ends: int) -> list[tuple[int, int, int]]:
        """[starts, ends) cut where the zone's offset changes: (begin, end, offset) each."""
        first, last = self._offset(starts), self._offset(ends - 1)
        if first == last:
            return [(starts, ends, first)]
        low, high = starts, ends - 1  # the offset is `first` at low and not at high
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if self._offset(middle) == first else (low, middle)
        return [(starts, high, first), *self._stretches(high, ends)]

    def _first_at(self, local: date) -> int:
        """The first instant the wall clock reads the date's 00:00 or later (a midnight the
        spring change skips starts the day at the change)."""
        wall = datetime(local.year, local.month, local.day, tzinfo=self._zone)
        earlier, later = _micros(wall), _micros(wall.replace(fold=1))  # fold=0, then fold=1
        if earlier <= later:
            return earlier  # a time that exists once, or twice (its first pass)
        # Skipped: fold=1 is before the change and fold=0 after it; the change is between.
        target = wall.replace(tzinfo=None)
        low, high = later, earlier
        while high - low > 1:
            middle = (low + high) // 2
            if _instant(middle).astimezone(self._zone).replace(tzinfo=None) >= target:
                high = middle
            else:
                low = middle
        return high

    def _ordinal(self, instant: int, at: datetime) -> int:
        """The local date (as an ordinal) whose span holds the instant."""
        last = self._last[0]  # calls come in runs over the same days: skip the zone lookup
        if last is not None and last[1] <= instant < last[2]:
            return last[0]
        ordinal = at.astimezone(self._zone).toordinal()
        starts, ends, _ = self._day(ordinal)
        # Where the zone's own idea of the date and the days' spans disagree (a fold at midnight).
        while instant < starts:
            ordinal -= 1
            starts, ends, _ = self._day(ordinal)
        while instant >= ends:
            ordinal += 1
            starts, ends, _ = self._day(ordinal)
        self._last[0] = (ordinal, starts, ends)
        return ordinal

    # --- the answers, in microseconds -----------------------------------------------------

    def open_between(self, start: int, end: int, at: datetime) -> int:
        """Open microseconds in [start, end) (start <= end; `at` is `start` as a datetime)."""
        ordinal = self._ordinal(start, at)
        total = 0
        while True:
            starts, _, spans = self._day(ordinal)
            if starts >= end:
                return total
            for begin, finish in spans:
                low = begin if begin > start else start
                high = finish if finish < end else end
                if high > low:
                    total += high - low
            ordinal += 1

    def add(self, start: int, amount: int, at: datetime) -> int | None:
        """The first instant with `amount` open microseconds since `start`, within SEARCH_DAYS."""
        if amount <= 0:
            return start
        ordinal = self._ordinal(start, at)
        for _ in range(SEARCH_DAYS + 1):
            for begin, finish in self._day(ordinal)[2]:
                if finish <= start:
                    continue
                low = begin if begin > start else start
                if amount <= finish - low:
                    return low + amount
                amount -= finish - low
            ordinal += 1
        return None

    def first_open(self, start: int, at: datetime) -> int | None:
        """The first open instant at or after `start`, within SEARCH_DAYS."""
        ordinal = self._ordinal(start, at)
        for _ in range(SEARCH_DAYS + 1):
            for begin, finish in self._day(ordinal)[2]:
                if finish > start:
                    return begin if begin > start else start
            ordinal += 1
        return None


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def _instant(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _merged(spans: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for begin, end in sorted(spans):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return tuple(merged)


def schedule_build(*, time_zone: str, intervals: Iterable[tuple[int, int, int]],
                   holidays: Iterable[date] = ()) -> Schedule:
    """A schedule from rows of (weekday, opens, closes): Monday is 0, times in seconds from
    local midnight (closes up to 86400, 24:00). Intervals of a day that overlap or touch are
    merged, empty ones dropped. Raises ZoneInfoNotFoundError for an unknown time zone and
    ValueError for a weekday or time out of range."""
    days: list[list[Interval]] = [[] for _ in range(WEEKDAYS)]
    for weekday, opens, closes in intervals:
        if not 0 <= weekday < WEEKDAYS or not 0 <= opens <= DAY_SECONDS or not 0 <= closes <= DAY_SECONDS:
            raise ValueError(f"Interval out of range: weekday {weekday}, {opens}-{closes} s.")
        if opens < closes:
            days[weekday].append((opens, closes))
    week = tuple(_merged(day) for day in days)
    return Schedule(time_zone=time_zone, week=week, holidays=frozenset(holidays))


def overlapping(intervals: Iterable[tuple[int, int, int]]) -> list[tuple[int, int]]:
    """Index pairs of the rows (weekday, opens, closes) that overlap on the same weekday
    (touching at a time is not overlapping): what the admin refuses."""
    rows = sorted((weekday, opens, closes, index) for index, (weekday, opens, closes) in enumerate(intervals))
    found = []
    for position, (weekday, _opens, closes, index) in enumerate(rows):
        for other_weekday, other_opens, _, other_index in rows[position + 1:]:
            if other_weekday != weekday or other_opens >= closes:
                break
            found.append((min(index, other_index), max(index, other_index)))
    return found


# --- the public answers -------------------------------------------------------------------------


def is_open(schedule: Schedule | None, at: datetime) -> bool:
    """Whether the team is in at `at` (an aware datetime): an interval opening at 08:00 is
    open at 08:00, one closing at 20:00 is closed at 20:00."""
    if schedule is None:
        return True
    instant = _micros(at)
    return any(begin <= instant < end for begin, end in schedule._day(schedule._ordinal(instant, at))[2])


def next_open(schedule: Schedule | None, at: datetime) -> datetime | None:
    """When the team is back: `at` itself when open then, else the next opening (in UTC);
    None when the schedule opens nowhere within SEARCH_DAYS."""
    if schedule is None:
        return at
    instant = _micros(at)
    found = schedule.first_open(instant, at)
    if found is None:
        return None
    return at if found == instant else _instant(found)


def business_seconds(schedule: Schedule | None, start: datetime, end: datetime) -> float:
    """Seconds of open time from `start` to `end` (aware datetimes); calendar seconds when
    `schedule` is None. Negative when `end` comes first, so spans add up whatever their order:
    business_seconds(a, b) + business_seconds(b, c) == business_seconds(a, c)."""
    if schedule is None:
        return (end - start).total_seconds()
    if end < start:
        return -business_seconds(schedule, end, start)
    return schedule.open_between(_micros(start), _micros(end), start) / _MICROSECONDS


def add_business_seconds(schedule: Schedule | None, start: datetime, seconds: float) -> datetime | None:
    """The first instant by which `seconds` of open time have passed since `start`: an SLA
    deadline. With no schedule, `start + seconds`. Inside open time that is where the count
    reaches `seconds` (at most the close of the interval it ends in); 0 seconds is `start`
    itself. None when the schedule does not give that much open time within SEARCH_DAYS.
    Results are in UTC, to the microsecond (`seconds` rounded to one)."""
    if seconds < 0:
        raise ValueError("Business seconds to add cannot be negative.")
    if schedule is None:
        return start + timedelta(seconds=seconds)
    found = schedule.add(_micros(start), round(seconds * _MICROSECONDS), start)
    return None if found is None else _instant(found)
