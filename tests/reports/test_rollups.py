"""The counters per hour on hand-built histories: each right answer worked out here."""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from datetime import date, timedelta

import pytest

from reports import counters, rollups
from reports.models import (
    AGENT_COUNTERS,
    AGENT_DIMENSIONS,
    HOUR_COUNTERS,
    HOUR_DIMENSIONS,
    AgentDayRollup,
    AgentHourRollup,
    DayRollup,
    HourRollup,
    HourTotalRollup,
)
from tests.factories import ContactFactory, UserFactory
from tests.reports import story
from tests.reports.story import at
from timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db


def refresh(*records) -> None:
    rollups.conversations_refresh([record.pk for record in records])


def test_service_level_counts_answers_within_target_and_misses_and_leaves_out_short_abandons():
    general = story.queue(target=60)
    someone = story.agent()
    waits = {"answered": [30, 90], "abandoned": [3, 20, 120]}
    records = []
    for outcome, seconds_list in waits.items():
        for seconds in seconds_list:
            record = story.conversation(created=at())
            end = at(seconds=seconds)
            if outcome == "answered":
                story.item(record, general, enqueued=at(), state="assigned", answered=end,
                           history=[("offered", at(seconds=1), someone), ("accepted", end, someone)])
            else:
                story.item(record, general, enqueued=at(), state="cancelled", completed=end,
                           history=[("cancelled", end, None)])
            records.append(record)
    refresh(*records)

    hour = story.totals(hour=at(), queue_id=general.pk)
    # 5 arrived; the 3-second abandon is left out; 30 s is the one answer within 60 s; 90 s
    # answered and 120 s abandoned are misses; 20 s abandoned is neither.
    assert (hour["arrived"], hour["answered"], hour["answered_in_target"]) == (5, 2, 1)
    assert (hour["abandoned"], hour["abandoned_short"], hour["missed_target"]) == (2, 1, 2)
    assert hour["answer_wait_sum"] == 120 and hour["abandon_wait_sum"] == 140
    assert HourRollup.objects.get(hour=at(), queue_id=general.pk).wait_max == 120
    offers = AgentHourRollup.objects.get(hour=at(), agent_id=someone.pk, queue_id=general.pk)
    assert (offers.offers, offers.answered) == (2, 2)


def test_a_reopen_moves_the_resolution_to_the_hour_it_was_resolved_again_and_is_not_first_contact():
    general = story.queue()
    record = story.conversation(created=at())
    story.item(record, general, enqueued=at(), state="completed", answered=at(seconds=10),
               completed=at(minutes=20))
    story.status(record, "resolved", at(minutes=20), reason="late")
    refresh(record)
    assert story.totals(hour=at())["resolved"] == 1 and story.totals(hour=at())["fcr"] == 1

    story.status(record, "open", at(minutes=90))  # the contact wrote again: reopened, at 11:30
    refresh(record)
    assert story.totals()["resolved"] == 0  # the first resolution no longer stands

    story.status(record, "resolved", at(minutes=130), reason="late")  # 12:10
    refresh(record)
    first_hour, third_hour = story.totals(hour=at()), story.totals(hour=at(minutes=120))
    assert first_hour["resolved"] == 0 and first_hour["created"] == 1
    assert (third_hour["resolved"], third_hour["reopened"], third_hour["fcr"]) == (1, 1, 0)
    assert third_hour["resolution_sum"] == 130 * 60


def test_a_rating_given_a_day_later_lands_in_the_hour_the_conversation_was_resolved():
    general = story.queue()
    record = story.conversation(created=at())
    story.item(record, general, enqueued=at(), state="completed", answered=at(seconds=10), completed=at(minutes=5))
    story.status(record, "resolved", at(minutes=5), reason="late")
    refresh(record)
    assert story.totals(hour=at())["rated"] == 0

    type(record).objects.filter(pk=record.pk).update(rating=5, rated_at=at(days=1))
    refresh(record)
    hour = story.totals(hour=at())
    assert (hour["rated"], hour["rating_sum"], hour["rating_positive"]) == (1, 5, 1)
    assert story.totals(hour__gt=at())["rated"] == 0


def test_a_transfer_splits_the_handle_time_between_agents_and_over_the_hours():
    general = story.queue()
    first, second = story.agent(), story.agent()
    record = story.conversation(created=at())
    # First holds it 10:00:10-10:20, transfers; the second holds it 10:40-11:10 and resolves.
    story.item(record, general, enqueued=at(), state="completed", answered=at(seconds=10),
               completed=at(minutes=70), history=[
                   ("assigned", at(seconds=10), first), ("transferred", at(minutes=20), first),
                   ("offered", at(minutes=39), second), ("accepted", at(minutes=40), second),
                   ("completed", at(minutes=70), second)])
    story.status(record, "resolved", at(minutes=70), reason="refund")
    refresh(record)

    def held(who, hour):
        return AgentHourRollup.objects.get(hour=hour, agent_id=who.pk, queue_id=general.pk).held_seconds

    assert held(first, at()) == 20 * 60 - 10
    assert held(second, at()) == 20 * 60 and held(second, at(minutes=60)) == 10 * 60
    resolved_hour = story.totals(hour=at(minutes=60))
    assert resolved_hour["handle_sum"] == 20 * 60 - 10 + 30 * 60
    assert resolved_hour["fcr"] == 0  # two agents
    by_second = AgentHourRollup.objects.get(hour=at(minutes=60), agent_id=second.pk, queue_id=general.pk)
    assert by_second.resolved == 1


def test_first_contact_resolution_is_undone_by_a_new_conversation_on_the_same_reason_within_seven_days():
    general = story.queue()
    contact = ContactFactory()
    first = story.conversation(created=at(), contact=contact)
    story.item(first, general, enqueued=at(), state="completed", answered=at(seconds=5), completed=at(minutes=10))
    story.status(first, "resolved", at(minutes=10), reason="late")
    other_reason = story.conversation(created=at(days=2), contact=contact)
    story.status(other_reason, "resolved", at(days=2, minutes=5), reason="refund")
    refresh(first, other_reason)
    assert story.totals(hour=at())["fcr"] == 1

    again = story.conversation(created=at(days=3), contact=contact)
    story.status(again, "resolved", at(days=3, minutes=5), reason="late")
    refresh(again)  # only the new one's events: the first one's figure follows
    assert story.totals(hour=at())["fcr"] == 0

    later = story.conversation(created=at(days=9), contact=ContactFactory())
    story.status(later, "resolved", at(days=9, minutes=1), reason="late")
    refresh(later)
    assert story.totals(hour=at(days=3))["fcr"] == 1  # another contact's: no effect

    story.status(again, "resolved", at(days=3, minutes=5), reason="refund")  # its reason corrected
    refresh(again)
    assert story.totals(hour=at())["fcr"] == 1  # the first one stands again


def test_every_new_conversation_of_a_batch_counts_against_an_earlier_first_contact():
    """One contact, one reason: resolved on day 0 and (opened on day 7.5, more than 7 days
    later) on day 8, both first-contact; then two new conversations in one batch, on day 1
    (within 7 days of the first) and day 9 (of the second): both earlier ones are undone."""
    contact = ContactFactory()
    first = story.conversation(created=at(), contact=contact)
    story.status(first, "resolved", at(minutes=10), reason="late")
    second = story.conversation(created=at(days=7.5), contact=contact)
    story.status(second, "resolved", at(days=8), reason="late")
    refresh(first, second)
    assert (story.totals(hour=at())["fcr"], story.totals(hour=at(days=8))["fcr"]) == (1, 1)
    soon = story.conversation(created=at(days=1), contact=contact, contact_reason="late")
    much_later = story.conversation(created=at(days=9), contact=contact, contact_reason="late")
    refresh(soon, much_later)
    assert (story.totals(hour=at())["fcr"], story.totals(hour=at(days=8))["fcr"]) == (0, 0)


def test_reply_times_count_a_persons_replies_from_the_first_unanswered_message():
    general = story.queue()
    person = UserFactory()
    record = story.conversation(created=at())
    story.item(record, general, enqueued=at(), state="assigned", answered=at(seconds=30))
    story.message(record, direction="in", sent=at())
    story.message(record, direction="out", sent=at(minutes=1), by=None)  # a workflow's: not a reply
    story.message(record, direction="out", sent=at(minutes=2), by=person)  # first reply: 120 s
    story.message(record, direction="in", sent=at(minutes=5))
    story.message(record, direction="in", sent=at(minutes=6))
    story.message(record, direction="note", sent=at(minutes=7), by=person)  # a note: not a reply
    story.message(record, direction="out", sent=at(minutes=10), by=person)  # next reply: 300 s
    story.message(record, direction="out", sent=at(minutes=11), by=person)  # nothing to answer
    story.status(record, "resolved", at(minutes=12), reason="late")
    refresh(record)
    hour = story.totals(hour=at())
    assert (hour["first_reply_count"], hour["first_reply_sum"]) == (1, 120)
    assert (hour["next_reply_count"], hour["next_reply_sum"]) == (1, 300)


def test_refreshing_again_with_nothing_new_changes_nothing():
    general = story.queue()
    record = story.conversation(created=at())
    story.item(record, general, enqueued=at(), state="completed", answered=at(seconds=10), completed=at(minutes=5))
    story.status(record, "resolved", at(minutes=5), reason="late")
    refresh(record)
    before = _snapshot()
    assert rollups.conversations_refresh([record.pk]) == 0
    refresh(record)
    assert _snapshot() == before


def _rows(model, time_column, dimensions, counters, extra=()) -> dict:
    """Every non-zero counter row of `model`, rounded (sums of seconds are floats)."""
    found = {}
    for row in model.objects.values(time_column, *dimensions, *extra, *counters):
        values = {name: round(row[name], 6) for name in (*counters, *extra) if round(row[name], 6)}
        if values:
            found[tuple(row[name] for name in (time_column, *dimensions))] = values
    return found


def _snapshot() -> tuple[dict, ...]:
    """Every non-zero counter row: per hour, per day and per hour in total."""
    return (_rows(HourRollup, "hour", HOUR_DIMENSIONS, HOUR_COUNTERS, ("wait_max",)),
            _rows(AgentHourRollup, "hour", AGENT_DIMENSIONS, AGENT_COUNTERS),
            _rows(DayRollup, "day", HOUR_DIMENSIONS, HOUR_COUNTERS, ("wait_max",)),
            _rows(AgentDayRollup, "day", AGENT_DIMENSIONS, AGENT_COUNTERS),
            _rows(HourTotalRollup, "hour", (), HOUR_COUNTERS))


def _days_summed_here(zone_name: str) -> tuple[dict, dict, dict]:
    """The rows per day and per hour in total, summed here from the rows per hour: a day is
    the hours that start on it in `zone_name`."""
    zone = zoneinfo.ZoneInfo(zone_name)

    def fold(rows: dict, key_of, waits: bool) -> dict:
        folded: dict = defaultdict(lambda: defaultdict(float))
        for key, values in rows.items():
            target = folded[key_of(key)]
            for name, value in values.items():
                target[name] = max(target[name], value) if name == "wait_max" else round(target[name] + value, 6)
        return {key: {name: value for name, value in values.items() if value and (waits or name != "wait_max")}
                for key, values in folded.items()}

    hours, agents = _snapshot()[:2]
    return (fold(hours, lambda key: (key[0].astimezone(zone).date(), *key[1:]), True),
            fold(agents, lambda key: (key[0].astimezone(zone).date(), *key[1:]), False),
            fold(hours, lambda key: key[:1], False))


def test_the_counters_kept_up_to_date_equal_a_rebuild_from_scratch():
    general, email = story.queue(), story.queue("email", target=3600)
    someone, other = story.agent(), story.agent()
    contact = ContactFactory()
    for day in range(3):
        for n in range(4):
            record = story.conversation(created=at(days=day, minutes=17 * n), contact=contact if n == 0 else None,
                                        channel="email" if n == 3 else "chat")
            queue_ = email if n == 3 else general
            start = at(days=day, minutes=17 * n)
            if n == 2:
                story.item(record, queue_, enqueued=start, state="cancelled",
                           completed=start + timedelta(seconds=40))
            else:
                answered = start + timedelta(seconds=15 * (n + 1))
                story.item(record, queue_, enqueued=start, state="completed", answered=answered,
                           completed=start + timedelta(minutes=50), history=[
                               ("assigned", answered, someone if n % 2 else other),
                               ("completed", start + timedelta(minutes=50), someone if n % 2 else other)])
                story.message(record, direction="in", sent=start)
                story.message(record, direction="out", sent=answered + timedelta(seconds=30), by=UserFactory())
                story.status(record, "resolved", start + timedelta(minutes=50), reason="late" if n else "refund")
            refresh(record)
            if day == 1 and n == 1:  # a late rating and a reopen on the way
                type(record).objects.filter(pk=record.pk).update(rating=2)
                refresh(record)
                story.status(record, "open", start + timedelta(hours=3))
                refresh(record)
                story.status(record, "resolved", start + timedelta(hours=4), reason="late")
                refresh(record)
    kept = _snapshot()
    assert all(kept)

    for model in (HourRollup, AgentHourRollup, DayRollup, AgentDayRollup, HourTotalRollup):
        model.objects.all().delete()
    rollups.rollups_rebuild(at(days=-1), at(days=5))
    assert _snapshot() == kept


def test_the_days_stay_the_sums_of_their_hours_in_the_desk_time_zone(settings):
    """Kolkata is UTC+5:30: a day there is the hours (UTC) that start on it, so the hour from
    18:00 UTC (23:30 there) is Monday's and 19:00 UTC (00:30) Tuesday's. Work in both, a late
    rating, a reopen that takes a resolution back out of an hour, a longest wait lowered (worked
    out again): the days are the sums of their hours."""
    settings.TIME_ZONE = "Asia/Kolkata"
    general = story.queue()
    someone = story.agent()
    records = []
    for minutes, wait in ((8 * 60 + 10, 45), (8 * 60 + 40, 20), (9 * 60, 30)):  # 18:10, 18:40, 19:00 UTC
        record = story.conversation(created=at(minutes=minutes))
        start = at(minutes=minutes)
        item = story.item(record, general, enqueued=start, state="completed",
                          answered=start + timedelta(seconds=wait), completed=start + timedelta(minutes=30),
                          history=[("assigned", start + timedelta(seconds=wait), someone)])
        story.status(record, "resolved", start + timedelta(minutes=30), reason="late")
        refresh(record)
        records.append((record, item))
    assert _snapshot()[2:] == _days_summed_here("Asia/Kolkata")
    first_day = at(minutes=8 * 60 + 10).astimezone(zoneinfo.ZoneInfo("Asia/Kolkata")).date()
    assert DayRollup.objects.get(day=first_day).created == 2  # 18:10 and 18:40 UTC
    assert DayRollup.objects.get(day=first_day + timedelta(days=1)).created == 1
    assert DayRollup.objects.get(day=first_day).wait_max == 45

    record, item = records[0]
    type(record).objects.filter(pk=record.pk).update(rating=5)  # a day later
    refresh(record)
    story.status(record, "open", at(days=1))
    type(item).objects.filter(pk=item.pk).update(answered_at=at(minutes=8 * 60 + 10, seconds=5))
    refresh(record)
    assert _snapshot()[2:] == _days_summed_here("Asia/Kolkata")
    assert DayRollup.objects.get(day=first_day).wait_max == 20  # lowered from 45 with its hour's

    settings.TIME_ZONE = "America/Sao_Paulo"  # the days move: worked out again from the hours
    counters.days_recount(at(days=-1), at(days=2))
    assert _snapshot()[2:] == _days_summed_here("America/Sao_Paulo")


def test_a_rebuild_of_part_of_the_range_leaves_the_rest_and_is_exact():
    general = story.queue()
    records = []
    for day in range(3):
        record = story.conversation(created=at(days=day))
        story.item(record, general, enqueued=at(days=day), state="completed", answered=at(days=day, seconds=20),
                   completed=at(days=day, minutes=30))
        story.status(record, "resolved", at(days=day, minutes=30), reason="late")
        records.append(record)
    refresh(*records)
    kept = _snapshot()
    HourRollup.objects.filter(hour=at(days=1)).update(created=99)  # damage one day
    progress = []
    rollups.rollups_rebuild(at(days=1), at(days=2), on_progress=progress.append)
    assert _snapshot() == kept
    assert progress[-1].done == progress[-1].total == 1


def test_through_the_desk_events_drained_from_the_outbox_count_once_even_when_replayed():
    from conversations import services
    from conversations.models import ContactReason
    from routing.models import WorkItemEvent
    from tests.scenarios import conversation_assigned, online_agent

    someone = online_agent()
    record = conversation_assigned(someone)
    ContactReason.objects.get_or_create(key="late", defaults={"label": "Late"})
    services.agent_reply(conversation_id=record.pk, user=someone.user, body="Hola")
    services.conversation_resolve(conversation_id=record.pk, user=someone.user, contact_reason="late")
    assert rollups.rollups_drain() > 0
    drained = _snapshot()
    totals = story.totals()
    assert (totals["created"], totals["arrived"], totals["answered"], totals["resolved"]) == (1, 1, 1, 1)
    assert totals["first_reply_count"] == 1

    # The same events handed over again (a drain that died after applying): nothing changes.
    rollups.routing_events_apply(list(WorkItemEvent.objects.values_list("pk", flat=True)))
    rollups.timeline_events_apply(list(TimelineEvent.objects.values_list("pk", flat=True)))
    assert _snapshot() == drained


def test_a_conversation_that_cannot_be_worked_out_holds_back_no_other(monkeypatch, settings):
    """A round works the conversations of every stream out together; when that fails, it is
    done again consumer by consumer, where the outbox tries the failing entries alone: the
    other conversation is counted, the bad one's entries wait (and are parked in the end)."""
    from conversations import services
    from supportdesk import outbox
    from supportdesk.models import OutboxEntry
    from tests.scenarios import conversation_assigned, online_agent

    settings.OUTBOX_MAX_ATTEMPTS = 2
    someone = online_agent()
    good, bad = conversation_assigned(someone), conversation_assigned(someone)
    for record in (good, bad):
        services.agent_reply(conversation_id=record.pk, user=someone.user, body="Hola")
    real = rollups.facts_module.conversation_facts

    def failing(ids):
        if bad.pk in set(ids):
            raise RuntimeError("a conversation the rules cannot read")
        return real(ids)

    monkeypatch.setattr(rollups.facts_module, "conversation_facts", failing)
    rollups.rollups_drain()
    assert story.totals()["created"] == 1 and story.totals()["first_reply_count"] == 1  # the good one

    def waiting() -> list[tuple[int, bool]]:
        return list(OutboxEntry.objects.filter(consumer__in=rollups.CONVERSATION_CONSUMERS)
                    .values_list("attempts", "parked_at"))

    assert waiting() and {(attempts, parked is None) for attempts, parked in waiting()} == {(1, True)}
    rollups.rollups_drain()
    assert waiting() and {(attempts, parked is None) for attempts, parked in waiting()} == {(2, False)}  # parked

    monkeypatch.setattr(rollups.facts_module, "conversation_facts", real)  # the cause fixed, retried
    outbox.outbox_retry(entry_ids=list(OutboxEntry.objects.values_list("pk", flat=True)))
    rollups.rollups_drain()
    assert not waiting() and story.totals()["created"] == 2


def test_the_rebuild_command_shows_its_progress_and_refuses_bad_dates(settings):
    from io import StringIO

    from django.core.management import CommandError, call_command

    settings.TIME_ZONE = "UTC"
    general = story.queue()
    record = story.conversation(created=at())
    story.item(record, general, enqueued=at(), state="completed", answered=at(seconds=20),
               completed=at(minutes=30))
    story.status(record, "resolved", at(minutes=30), reason="late")
    out = StringIO()
    call_command("rollups_rebuild", "--start", "2026-03-02", "--end", "2026-03-02", stdout=out)
    assert "1/1 conversations" in out.getvalue() and "Rebuilt from 1 conversations" in out.getvalue()
    assert story.totals(hour=at())["resolved"] == 1
    with pytest.raises(CommandError, match="not a date"):
        call_command("rollups_rebuild", "--start", "2026-02-30", "--end", "2026-03-02")
    with pytest.raises(CommandError, match="before"):
        call_command("rollups_rebuild", "--start", "2026-03-03", "--end", "2026-03-02")

    settings.TIME_ZONE = "Pacific/Kiritimati"  # UTC+14: 10:00 UTC on the 2nd is the 3rd there
    out = StringIO()
    call_command("rollups_rebuild", "--start", "2026-03-01", "--end", "2026-03-04", "--days-only", stdout=out)
    assert "Summed the counters per day" in out.getvalue()
    assert list(DayRollup.objects.values_list("day", "resolved")) == [(date(2026, 3, 3), 1)]


def test_waits_and_reply_times_count_business_time_where_the_queue_keeps_hours():
    from datetime import time

    from routing.models import BusinessHours, OpeningInterval
    from routing.schedules import schedules_forget

    hours = BusinessHours.objects.create(name="Split day", time_zone="UTC")
    # Monday: open 09:00-10:00 and 11:00-18:00 (UTC); closed 10:00-11:00.
    OpeningInterval.objects.create(hours=hours, weekday=0, opens_at=time(9), closes_at=time(10))
    OpeningInterval.objects.create(hours=hours, weekday=0, opens_at=time(11), closes_at=time(18))
    office = story.queue("office", target=60)
    office.business_hours = hours
    office.save()
    calendar = story.queue("calendar", target=60)
    schedules_forget()
    person = UserFactory()
    results = {}
    for in_queue in (office, calendar):
        # Arrives at 09:59:30, answered at 11:00:30: 60 s of business time, 3,660 s of calendar time.
        record = story.conversation(created=at(seconds=-30))
        story.item(record, in_queue, enqueued=at(seconds=-30), state="assigned",
                   answered=at(minutes=60, seconds=30))
        story.message(record, direction="in", sent=at(seconds=-30))
        story.message(record, direction="out", sent=at(minutes=60, seconds=30), by=person)
        refresh(record)
        results[in_queue.key] = story.totals(queue_id=in_queue.pk)
    office_hour, calendar_hour = results["office"], results["calendar"]
    assert (office_hour["answer_wait_sum"], office_hour["answered_in_target"]) == (60, 1)
    assert office_hour["first_reply_sum"] == 60
    assert (calendar_hour["answer_wait_sum"], calendar_hour["missed_target"]) == (3660, 1)


def test_time_in_each_presence_is_split_over_the_hours_once_a_stretch_ends():
    from routing.models import AgentPresenceChange

    someone = story.agent()

    def change(presence, moment):
        return AgentPresenceChange.objects.create(agent=someone, presence=presence, previous="", at=moment,
                                                  reason="agent").pk

    def seconds(name, hour):
        row = AgentHourRollup.objects.filter(hour=hour, agent_id=someone.pk, queue_id=0, channel="").first()
        return getattr(row, name) if row else 0

    first = change("online", at(minutes=30))  # 10:30
    rollups.presence_changes_apply([first])
    assert seconds("online_seconds", at()) == 0  # still online: not counted yet
    second = change("away", at(minutes=80))  # 11:20
    third = change("online", at(minutes=95))  # 11:35
    rollups.presence_changes_apply([third, second])
    rollups.presence_changes_apply([second])  # handed over again: counts once
    assert seconds("online_seconds", at()) == 30 * 60
    assert seconds("online_seconds", at(minutes=60)) == 20 * 60
    assert seconds("away_seconds", at(minutes=60)) == 15 * 60
    late = change("away", at(minutes=50))  # a change that arrives late: 10:50
    rollups.presence_changes_apply([late])
    assert (seconds("online_seconds", at()), seconds("away_seconds", at())) == (20 * 60, 10 * 60)
    assert seconds("away_seconds", at(minutes=60)) == 35 * 60  # 11:00-11:20 and 11:20-11:35
    kept = _snapshot()

    AgentHourRollup.objects.all().delete()
    rollups.rollups_rebuild(at(days=-1), at(days=1))
    assert _snapshot() == kept
