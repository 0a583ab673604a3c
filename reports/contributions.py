"""What a fact adds to the counters per hour: pure functions, no database.

`Deltas` collects, for a set of facts, the new facts' contributions minus the old ones', per
counter row; `reports.rollups` writes the sum. The rules (README, "Metrics"):

- A work item counts in the hour it arrived (`enqueued_at`), in its queue: answered, with
  its wait (average speed of answer), within the queue's target or not; abandoned (the
  contact left before an agent answered), with its wait, unless within
  `SHORT_ABANDON_SECONDS` (left out: a mis-click, not a wait); answered or abandoned after
  the target is a miss. One still waiting counts as arrived only.
- A conversation counts as created in the hour it was created (with its first reply time),
  as closed in the hour it was closed unresolved (the contact left, a call hung up), and as
  resolved in the hour it was resolved: resolution and handle time, reopened, first-
  contact resolution, replies after the first, and its survey and rating. A reopen takes it
  out of the old hour (its resolution no longer stands); a rating given a day later lands in
  the hour the conversation was resolved.
- Per agent: offers made, declined and missed (timed out) in the hour of each; the seconds
  they held work, split over the hours; conversations they resolved, with their handle time,
  first-contact resolution and rating; seconds in each presence, split over the hours.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from reports.models import AGENT_COUNTERS

SHORT_ABANDON_SECONDS = 5.0
HOUR = 3600

HourKey = tuple[datetime, int, str, str, str, str]  # hour, queue, channel, language, kind, reason
AgentKey = tuple[datetime, int, int, str]  # hour, agent, queue, channel


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _hour_at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch - epoch % HOUR, UTC)


def split_hours(start: float, end: float) -> Iterable[tuple[datetime, float]]:
    """[start, end) in epoch seconds as (hour, seconds in it)."""
    while start < end:
        boundary = start - start % HOUR + HOUR
        stop = min(boundary, end)
        yield _hour_at(start), stop - start
        start = stop


class Deltas:
    """Differences to add to the counters: `add(fact, +1)` for a fact's new state and
    `add(old, -1)` for what it contributed before. Longest waits are kept apart: a new
    ended item raises its row's (`wait_max`), an old one taken away asks for the row's longest
    wait to be worked out again (`wait_max_removed`)."""

    def __init__(self) -> None:
        self.hours: dict[HourKey, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.agents: dict[AgentKey, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.wait_max: dict[HourKey, float] = {}
        self.wait_max_removed: dict[HourKey, float] = {}

    def _hour(self, key: HourKey, sign: int, **counters: float) -> None:
        row = self.hours[key]
        for name, value in counters.items():
            row[name] += sign * value

    def _agent(self, key: AgentKey, sign: int, **counters: float) -> None:
        row = self.agents[key]
        for name, value in counters.items():
            row[name] += sign * value

    def item(self, fact, sign: int) -> None:  # noqa: ANN001 (an ItemFact or a stand-in)
        key = (hour_of(fact.enqueued_at), fact.queue_id, fact.channel, fact.language, fact.contact_kind,
               fact.contact_reason)
        counters: dict[str, float] = {"arrived": 1}
        wait = fact.wait_seconds
        missed = wait > fact.target_seconds
        if fact.outcome == "answered":
            counters |= {"answered": 1, "answer_wait_sum": wait,
                         "answered_in_target" if not missed else "missed_target": 1}
        elif fact.outcome == "abandoned":
            if wait < SHORT_ABANDON_SECONDS:
                counters["abandoned_short"] = 1
            else:
                counters |= {"abandoned": 1, "abandon_wait_sum": wait}
                if missed:
                    counters["missed_target"] = 1
        self._hour(key, sign, **counters)
        if fact.outcome in ("answered", "abandoned"):
            target = self.wait_max if sign > 0 else self.wait_max_removed
            target[key] = max(target.get(key, 0.0), wait)
        for agent_id, kind, at in fact.agent_events:
            name = {"offer": "offers", "declined": "declined", "missed": "missed", "answered": "answered"}[kind]
            self._agent((_hour_at(at), agent_id, fact.queue_id, fact.channel), sign, **{name: 1})
        for agent_id, start, end in fact.held:
            for hour, seconds in split_hours(start, end):
                self._agent((hour, agent_id, fact.queue_id, fact.channel), sign, held_seconds=seconds)

    def conversation(self, fact, sign: int) -> None:  # noqa: ANN001 (a ConversationFact or a stand-in)
        dimensions = (fact.queue_id, fact.channel, fact.language, fact.contact_kind, fact.contact_reason)
        created: dict[str, float] = {"created": 1}
        if fact.first_reply_seconds is not None:
            created |= {"first_reply_count": 1, "first_reply_sum": fact.first_reply_seconds}
        self._hour((hour_of(fact.created_at), *dimensions), sign, **created)
        if fact.closed_at is not None and fact.resolved_at is None:
            self._hour((hour_of(fact.closed_at), *dimensions), sign, closed=1)
        if fact.resolved_at is None:
            return
        rated = fact.rating is not None
        rating = {"rated": 1, "rating_sum": fact.rating, "rating_positive": int(fact.rating >= 4)} if rated else {}
        hour = hour_of(fact.resolved_at)
        self._hour((hour, *dimensions), sign, resolved=1,
                   resolution_sum=(fact.resolved_at - fact.created_at).total_seconds(),
                   handle_sum=fact.handle_seconds, reopened=int(fact.reopened), fcr=int(fact.fcr),
                   next_reply_count=fact.next_reply_count, next_reply_sum=fact.next_reply_seconds,
                   surveyed=int(fact.surveyed), **rating)
        if fact.agent_id:
            self._agent((hour, fact.agent_id, fact.queue_id, fact.channel), sign, resolved=1,
                        handle_sum=fact.handle_seconds, fcr=int(fact.fcr), **rating)

    def presence(self, fact, sign: int) -> None:  # noqa: ANN001 (a PresenceFact or a stand-in)
        if fact.ended_at is None:
            return
        name = f"{fact.presence}_seconds"
        if name not in AGENT_COUNTERS:
            return
        for hour, seconds in split_hours(fact.started_at.timestamp(), fact.ended_at.timestamp()):
            self._agent((hour, fact.agent_id, 0, ""), sign, **{name: seconds})

    def hour_rows(self) -> list[tuple[HourKey, dict[str, float], float]]:
        """(key, counters, new longest wait) for every row something changes, in key order
        (writers lock rows in one order)."""
        keys = sorted(set(self.hours) | set(self.wait_max))
        rows = []
        for key in keys:
            counters = {name: value for name, value in self.hours.get(key, {}).items() if value}
            if counters or self.wait_max.get(key):
                rows.append((key, counters, self.wait_max.get(key, 0.0)))
        return rows

    def agent_rows(self) -> list[tuple[AgentKey, dict[str, float]]]:
        rows = []
        for key in sorted(self.agents):
            counters = {name: value for name, value in self.agents[key].items() if value}
            if counters:
                rows.append((key, counters))
        return rows

