"""Staffing for a week: per hour of a queue's week, in the desk's time zone, the agents needed
to meet the service level target, beside the agents who were online at that hour last week.
Reads the counters per hour (reports.models), never the raw conversations; the queueing
arithmetic is reports.staffing (README, "Staffing").

How each figure is made, per channel of the queue (or the one channel asked for):

- **The hours.** The week is 7 x 24 local hours from its first day (settings.TIME_ZONE). A
  local hour is the span of UTC time its clock covers: the hour a spring clock change skips
  is empty (nothing to staff), the autumn hour that happens twice is two hours long, and in a
  half-hour zone a local hour covers halves of two UTC hours, each counted for its share (work
  taken as even within an hour). Figures of a span are per hour of it.
- **History.** Only hours that have ended count: those before `history_end`, the start of the
  current hour (or the week's start, for a week already begun or past).
- **Forecast arrivals** of a local hour: the work items that arrived in the same weekday and
  local hour in its latest four occurrences before `history_end`, weighted 4, 3, 2, 1, newest
  first (WEIGHTS). For the coming week that is the last four weeks; for a past week, the four
  weeks before it.
- **Handle time**: the seconds agents held the queue's work over the items they answered
  (AgentHourRollup held_seconds / answered) in those four weeks; DEFAULT_HANDLE_SECONDS when
  none was answered. A chat held while the agent has others open counts all its time: the
  place it takes is busy that long.
- **Concurrency**: the channel's capacity (AgentProfile.capacity) averaged over the agents who
  held the queue's work on that channel in those weeks, rounded, at least 1 (the channel's
  default capacity when nobody did); voice is always 1. The capacity, not the measured load:
  staffing plans agents to work at their capacity, and the held time above is already the
  time a place is busy at that load.
- **Patience** (Erlang A): the time everyone waited, answered or abandoned, over the number who
  abandoned: the estimate of an exponential patience whose answered waits are cut short
  (censored). Abandons within SHORT_ABANDON_SECONDS are left out, as in the service level.
  With no abandon measured, Erlang A is Erlang C.
- **Agents needed**: reports.staffing.agents_needed per channel for the queue's target wait and
  STAFFING_TARGET_SERVICE_LEVEL, summed over the channels (a queue's chat and voice are
  staffed apart).
- **Online last week**: the agents who held the queue's work in those four weeks (one working
  several queues counts in each), their online seconds in the latest occurrence of the same
  local hour (exactly one week before, for a past week) over the hour's seconds: how many were
  online on average. Short of agents: fewer online than Erlang A needs.

A few grouped queries whatever the week: the queue's arrivals per hour and channel, its held
time per agent and channel, those agents' capacities, and their online time per hour.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext

from reports.models import AgentHourRollup, HourRollup
from reports.staffing import agents_needed
from routing.models import CHANNELS, DEFAULT_CAPACITY, AgentProfile, Queue
from supportdesk.errors import DomainError

WEIGHTS = (4, 3, 2, 1)  # the latest occurrence of an hour first
DEFAULT_HANDLE_SECONDS = 300.0
HOUR = timedelta(hours=1)
# The weeks one may ask for: the desk's own era (no local mean times, four weeks of history
# and the week itself well inside the calendar).
FIRST_WEEK, LAST_WEEK = date(2000, 1, 1), date(2999, 12, 31)

Span = tuple[datetime, datetime]  # [start, end) in UTC


@dataclass(frozen=True)
class ChannelMeasures:
    channel: str
    handle_seconds: float
    handle_measured: bool  # False: DEFAULT_HANDLE_SECONDS, nothing was answered
    concurrency: int
    patience_seconds: float | None  # None: nobody abandoned (Erlang A is Erlang C)


@dataclass(frozen=True)
class HourStaffing:
    day: date
    hour: int
    starts_at: datetime | None  # UTC; None for the hour a clock change skips
    forecast_arrivals: float  # per hour
    needed_erlang_c: int
    needed_erlang_a: int
    online_last_week: float | None  # agents online on average; None for a skipped hour
    short: bool  # fewer online last week than Erlang A needs


@dataclass(frozen=True)
class StaffingWeek:
    queue: Queue
    channel: str  # "" for every channel of the queue
    week_start: date
    time_zone: str
    service_level_target: float
    history_end: datetime
    channels: tuple[ChannelMeasures, ...]
    hours: tuple[HourStaffing, ...]  # day by day, each day's 24 hours in order


def desk_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def next_week_start(now: datetime | None = None) -> date:
    """The coming Monday in the desk's time zone (a week from today on a Monday)."""
    today = timezone.localdate(now or timezone.now(), desk_zone())
    return today + timedelta(days=7 - today.weekday())


def local_hour_span(day: date, hour: int, zone: ZoneInfo) -> Span:
    """The UTC span a local hour covers (empty for one the clock skips: both ends read
    before the change land on the same instant)."""
    start = datetime.combine(day, time(hour), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone) if hour == 23 else start.replace(
        hour=hour + 1)
    return start.astimezone(UTC), end.astimezone(UTC)


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _occurrences(day: date, hour: int, zone: ZoneInfo, history_end: datetime) -> list[Span]:
    """The latest len(WEIGHTS) occurrences of that weekday and local hour that ended by
    `history_end`, newest first (a skipped hour is no occurrence)."""
    weeks_back = max(1, (day - history_end.astimezone(zone).date()).days // 7)
    found: list[Span] = []
    while len(found) < len(WEIGHTS):
        start, end = local_hour_span(day - timedelta(weeks=weeks_back), hour, zone)
        if start < end <= history_end:
            found.append((start, end))
        weeks_back += 1
    return found


def _per_hour(span: Span, counts: dict[datetime, float]) -> float:
    """A counter over the span, per hour of it, from its values per UTC hour."""
    start, end = span
    total, hour = 0.0, _floor_hour(start)
    while hour < end:
        overlap = (min(hour + HOUR, end) - max(hour, start)) / HOUR
        total += counts.get(hour, 0.0) * overlap
        hour += HOUR
    return total / ((end - start) / HOUR)


def _weighted(spans: list[Span], counts: dict[datetime, float]) -> float:
    weighted = sum(weight * _per_hour(span, counts) for weight, span in zip(WEIGHTS, spans, strict=True))
    return weighted / sum(WEIGHTS)


def _check_week(week_start: date) -> None:
    if not FIRST_WEEK <= week_start <= LAST_WEEK:
        raise DomainError(gettext("The week must start between %(first)s and %(last)s.") % {
            "first": FIRST_WEEK.isoformat(), "last": LAST_WEEK.isoformat()}, details={"week": ["out_of_range"]})


def staffing_week(*, queue: Queue, week_start: date, channel: str = "",
                  now: datetime | None = None) -> StaffingWeek:
    """The staffing of `queue` (its `channel` only, if given) for the 7 days from `week_start`,
    forecast as of `now` (default: now)."""
    _check_week(week_start)
    zone = desk_zone()
    first_hour = local_hour_span(week_start, 0, zone)[0]
    history_end = _floor_hour(min(now or timezone.now(), first_hour).astimezone(UTC))
    cells = [(week_start + timedelta(days=offset), hour) for offset in range(7) for hour in range(24)]
    samples = {cell: _occurrences(*cell, zone, history_end) for cell in cells}
    history = _History.load(queue=queue, channel=channel, end=history_end,
                            start=_floor_hour(min(spans[-1][0] for spans in samples.values())),
                            last_week_start=_floor_hour(min(spans[0][0] for spans in samples.values())))
    measures = history.measures()
    level = settings.STAFFING_TARGET_SERVICE_LEVEL
    hours = []
    for day, hour in cells:
        start, end = local_hour_span(day, hour, zone)
        if start == end:
            hours.append(HourStaffing(day=day, hour=hour, starts_at=None, forecast_arrivals=0.0, needed_erlang_c=0,
                                      needed_erlang_a=0, online_last_week=None, short=False))
            continue
        spans = samples[(day, hour)]
        arrivals = {measure.channel: _weighted(spans, history.arrived[measure.channel]) for measure in measures}
        needed_c = sum(_needed(measure, arrivals[measure.channel], queue=queue, level=level, patience=False)
                       for measure in measures)
        needed_a = sum(_needed(measure, arrivals[measure.channel], queue=queue, level=level, patience=True)
                       for measure in measures)
        online = _per_hour(spans[0], history.online) / 3600
        hours.append(HourStaffing(day=day, hour=hour, starts_at=start, forecast_arrivals=sum(arrivals.values()),
                                  needed_erlang_c=needed_c, needed_erlang_a=needed_a, online_last_week=online,
                                  short=online < needed_a))
    return StaffingWeek(queue=queue, channel=channel, week_start=week_start, time_zone=settings.TIME_ZONE,
                        service_level_target=level, history_end=history_end, channels=tuple(measures),
                        hours=tuple(hours))


def _needed(measure: ChannelMeasures, arrivals: float, *, queue: Queue, level: float, patience: bool) -> int:
    return agents_needed(arrivals_per_hour=arrivals, handle_seconds=measure.handle_seconds,
                         target_seconds=queue.target_wait_seconds, service_level_target=level,
                         concurrency=measure.concurrency,
                         patience_seconds=measure.patience_seconds if patience else None).agents


@dataclass
class _History:
    """What the queue's last four weeks hold, per channel, read in a few grouped queries."""

    arrived: dict[str, dict[datetime, float]]  # channel -> UTC hour -> work items arrived
    waits: dict[str, dict[str, float]]  # channel -> abandoned, wait (answered and abandoned, seconds)
    held: dict[str, dict[str, float]]  # channel -> held_seconds, answered
    capacities: dict[str, list[int]]  # channel -> the capacity of each agent who held its work
    online: dict[datetime, float]  # UTC hour -> online seconds of those agents

    @classmethod
    def load(cls, *, queue: Queue, channel: str, start: datetime, end: datetime,
             last_week_start: datetime) -> _History:
        only = {"channel": channel} if channel else {}
        arrived: dict[str, dict[datetime, float]] = defaultdict(dict)
        waits: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for row in (HourRollup.objects.filter(queue_id=queue.pk, hour__gte=start, hour__lt=end, **only)
                    .values("hour", "channel")
                    .annotate(arrived_total=Sum("arrived"), abandoned_total=Sum("abandoned"),
                              answer_wait=Sum("answer_wait_sum"), abandon_wait=Sum("abandon_wait_sum"))):
            arrived[row["channel"]][row["hour"]] = float(row["arrived_total"])
            waits[row["channel"]]["abandoned"] += row["abandoned_total"]
            waits[row["channel"]]["wait"] += row["answer_wait"] + row["abandon_wait"]
        held: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        agents_of: dict[str, set[int]] = defaultdict(set)
        for row in (AgentHourRollup.objects.filter(queue_id=queue.pk, hour__gte=start, hour__lt=end, **only)
                    .values("agent_id", "channel")
                    .annotate(held_total=Sum("held_seconds"), answered_total=Sum("answered"))):
            held[row["channel"]]["held_seconds"] += row["held_total"]
            held[row["channel"]]["answered"] += row["answered_total"]
            if row["held_total"] > 0:
                agents_of[row["channel"]].add(row["agent_id"])
        agent_ids = set().union(*agents_of.values())
        profiles = {profile.pk: profile
                    for profile in AgentProfile.objects.filter(pk__in=agent_ids).only("capacity")}
        capacities = {name: [profiles[agent].capacity_for(name) for agent in agents if agent in profiles]
                      for name, agents in agents_of.items()}
        online = {row["hour"]: row["online"] for row in (
            AgentHourRollup.objects.filter(queue_id=0, channel="", agent_id__in=agent_ids,
                                           hour__gte=last_week_start, hour__lt=end)
            .values("hour").annotate(online=Sum("online_seconds")))}
        return cls(arrived=arrived, waits=waits, held=held, capacities=capacities, online=online)

    def measures(self) -> list[ChannelMeasures]:
        """Per channel with work in those weeks, in the routing's order of channels."""
        seen = set(self.arrived) | set(self.held)
        return [self._measure(name) for name in CHANNELS if name in seen]

    def _measure(self, channel: str) -> ChannelMeasures:
        held = self.held.get(channel, {})
        measured = held.get("answered", 0) > 0 and held.get("held_seconds", 0) > 0
        capacities = [capacity for capacity in self.capacities.get(channel, []) if capacity > 0]
        concurrency = round(sum(capacities) / len(capacities)) if capacities else DEFAULT_CAPACITY[channel]
        waits = self.waits.get(channel, {})
        abandoned = waits.get("abandoned", 0)
        return ChannelMeasures(
            channel=channel,
            handle_seconds=held["held_seconds"] / held["answered"] if measured else DEFAULT_HANDLE_SECONDS,
            handle_measured=measured,
            concurrency=1 if channel == "voice" else max(1, concurrency),
            patience_seconds=max(waits["wait"], 1.0) / abandoned if abandoned > 0 else None,
        )

