"""Service-level clocks pause outside a queue's business hours (routing.service_levels): the
deadlines are stored in business time when an item enters such a queue, the sweep and the
figures read them, and supervisors' changes work them out again. Queues without hours store
nothing and keep calendar time."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings

from routing import schedules, service_levels, services
from routing.business_hours import business_seconds
from routing.models import BusinessHours, ItemState, Queue, RoutingRule, WorkItem, WorkItemEventKind
from routing.services import IntervalRow
from tests.routing.test_service_levels import NOW, build, items, queues, sql_rows

pytestmark = pytest.mark.django_db

MADRID = ZoneInfo("Europe/Madrid")
WEEKDAYS_8_TO_20 = [IntervalRow(weekday=day, opens_at=time(8), closes_at=time(20)) for day in range(5)]
DEADLINES = service_levels.DEADLINE_FIELDS


def madrid(*args: int) -> datetime:
    return datetime(*args, tzinfo=MADRID)


@pytest.fixture
def clock(monkeypatch) -> list[datetime]:
    """The services' clock, set by the test: clock[0] = ..."""
    now = [madrid(2026, 3, 27, 21, 0)]
    monkeypatch.setattr(timezone, "now", lambda: now[0])
    return now


@pytest.fixture
def office() -> BusinessHours:
    return services.business_hours_save(hours=BusinessHours(name="Office", time_zone="Europe/Madrid"),
                                        actor=None, intervals=WEEKDAYS_8_TO_20)


@pytest.fixture
def chat_rule() -> RoutingRule:
    return RoutingRule.objects.create(name="chat by language", position=10, queue_key="chat.{language}",
                                      condition={"attribute": "channel", "op": "eq", "value": "chat"})


@pytest.fixture
def chat_es(office, chat_rule) -> Queue:
    return Queue.objects.create(key="chat.es", name="Chat ES", target_wait_seconds=60, escalate_at_percent=80,
                                business_hours=office)


def enqueue(conversation_id: int = 1) -> WorkItem:
    return services.work_item_enqueue(conversation_id=conversation_id, channel="chat",
                                      attributes={"language": "es", "contact_kind": "customer"})


def kinds(item: WorkItem) -> list[tuple[str, datetime]]:
    return list(item.events.exclude(kind="queued").order_by("id").values_list("kind", "at"))


def test_a_chat_arriving_after_hours_breaches_at_the_opening_plus_its_target(chat_es, clock):
    # given a queue open 08:00-20:00 on weekdays, and a chat on Friday at 21:00 nobody takes
    item = enqueue()

    # then its clock starts on Monday at 08:00 (summer time since Sunday)
    assert item.state == ItemState.WAITING
    assert item.escalation_due_at == madrid(2026, 3, 30, 8, 0, 48)  # 80% of 60 s
    assert item.breach_due_at == madrid(2026, 3, 30, 8, 1)
    assert item.relax_due_at is None and item.overflow_due_at is None  # the queue sets neither

    # when the sweep runs through the weekend and into Monday
    for now in (madrid(2026, 3, 27, 21, 2), madrid(2026, 3, 30, 7, 59)):
        clock[0] = now
        assert services.sla_sweep() == dict.fromkeys(services.SLA_STEPS, 0)
    clock[0] = madrid(2026, 3, 30, 8, 0, 50)
    assert services.sla_sweep()[WorkItemEventKind.ESCALATED] == 1
    clock[0] = madrid(2026, 3, 30, 8, 1, 5)
    assert services.sla_sweep()[WorkItemEventKind.BREACHED] == 1

    # then each step is recorded when it fell due in business time
    item.refresh_from_db()
    assert kinds(item) == [("escalated", madrid(2026, 3, 30, 8, 0, 48)), ("breached", madrid(2026, 3, 30, 8, 1))]
    assert item.sla_breached_at == madrid(2026, 3, 30, 8, 1)


def test_the_clock_stops_at_the_close_and_runs_on_at_the_opening(chat_es, clock):
    clock[0] = madrid(2026, 3, 27, 19, 59, 30)

    item = enqueue()

    assert item.breach_due_at == madrid(2026, 3, 30, 8, 0, 30)
    clock[0] = madrid(2026, 3, 30, 8, 0, 20)
    assert not service_levels.breached(item, now=clock[0])
    assert service_levels.breached(item, now=madrid(2026, 3, 30, 8, 0, 30))


def test_a_queue_without_hours_stores_nothing_and_keeps_calendar_time(chat_es, clock):
    chat_es.business_hours = None
    chat_es.save()

    item = enqueue()

    assert all(getattr(item, name) is None for name in DEADLINES)
    assert service_levels.due_at(WorkItemEventKind.BREACHED, item) == clock[0] + timedelta(seconds=60)
    clock[0] += timedelta(seconds=61)
    assert services.sla_sweep()[WorkItemEventKind.BREACHED] == 1


def test_moving_between_queues_takes_the_new_queues_time(chat_es, clock):
    always = Queue.objects.create(key="general", name="General", target_wait_seconds=120)
    item = enqueue()

    moved = services.work_item_transfer(item_id=item.pk, user=None, queue_key="general", is_supervisor=True)
    assert all(getattr(moved, name) is None for name in DEADLINES)
    assert service_levels.due_at(WorkItemEventKind.BREACHED, moved) == item.enqueued_at + timedelta(seconds=120)

    always.business_hours = chat_es.business_hours
    always.save()
    back = services.work_item_transfer(item_id=item.pk, user=None, queue_key="chat.es", is_supervisor=True)
    back.refresh_from_db()
    assert back.breach_due_at == madrid(2026, 3, 30, 8, 1)


def test_an_item_overflowing_into_a_queue_with_hours_takes_its_business_time(office, chat_rule, clock):
    office_queue = Queue.objects.create(key="office", name="Office", target_wait_seconds=600,
                                        business_hours=office)
    Queue.objects.create(key="chat.es", name="Chat ES", target_wait_seconds=3600, overflow_queue=office_queue,
                         overflow_after_seconds=30)
    item = enqueue()
    assert item.breach_due_at is None  # calendar time in its first queue

    clock[0] += timedelta(seconds=31)
    assert services.sla_sweep()[WorkItemEventKind.OVERFLOWED] == 1

    item.refresh_from_db()
    assert item.queue_id == office_queue.pk
    # The target is counted from its arrival, in the new queue's open time.
    assert item.breach_due_at == madrid(2026, 3, 30, 8, 10)


def test_a_supervisor_changing_the_target_or_the_hours_moves_open_items_deadlines(
        chat_es, office, clock, django_capture_on_commit_callbacks):
    waiting, done = enqueue(1), enqueue(2)
    services.work_item_complete(item_id=done.pk)

    chat_es.target_wait_seconds = 120
    with django_capture_on_commit_callbacks(execute=True):
        services.queue_save(queue=chat_es, actor=None)
    waiting.refresh_from_db()
    assert waiting.breach_due_at == madrid(2026, 3, 30, 8, 2)

    # Open at 07:00 on Mondays from now on.
    with django_capture_on_commit_callbacks(execute=True):
        services.business_hours_save(hours=office, actor=None, intervals=[
            IntervalRow(weekday=0, opens_at=time(7), closes_at=time(20)), *WEEKDAYS_8_TO_20[1:]])
    waiting.refresh_from_db()
    assert waiting.breach_due_at == madrid(2026, 3, 30, 7, 2)

    # No hours any more: calendar time.
    chat_es.business_hours = None
    with django_capture_on_commit_callbacks(execute=True):
        services.queue_save(queue=chat_es, actor=None)
    waiting.refresh_from_db()
    assert all(getattr(waiting, name) is None for name in DEADLINES)
    calendar = waiting.enqueued_at + timedelta(seconds=120)
    assert service_levels.due_at(WorkItemEventKind.BREACHED, waiting) == calendar

    # The closed item keeps the deadline it was judged on.
    done.refresh_from_db()
    assert done.breach_due_at == madrid(2026, 3, 30, 8, 1)


def test_the_schedule_of_a_queue_is_cached_and_forgotten_on_save(chat_es, office):
    schedule = schedules.schedule_for_queue(chat_es.pk)
    assert schedule is not None and schedule.time_zone == "Europe/Madrid"
    assert schedules.schedule_for_queue(chat_es.pk) is schedule  # read once

    office.time_zone = "Atlantic/Canary"
    office.save()
    assert schedules.schedule_for_queue(chat_es.pk).time_zone == "Atlantic/Canary"
    office.time_zone = "Europe/Madrid"
    office.save()
    assert schedules.schedule_for_queue(chat_es.pk) is not schedule  # another object, the same hours
    schedules.schedules_forget()
    again = schedules.schedule_for_queue(chat_es.pk)
    # A reload of rows that did not change keeps the schedule (and its cache of days).
    schedules.schedules_forget()
    assert schedules.schedule_for_queue(chat_es.pk) is again

    chat_es.business_hours = None
    chat_es.save()
    assert schedules.schedule_for_queue(chat_es.pk) is None


# --- the rule in Python and in SQL, with stored deadlines ------------------------------------------------------


def test_a_step_of_hours_that_never_open_never_falls_due(chat_es, clock):
    chat_es.business_hours.intervals.all().delete()  # written around the admin, which refuses it

    item = enqueue()

    assert item.breach_due_at == service_levels.NEVER
    assert not service_levels.breached(item, now=clock[0] + timedelta(days=400))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(queue_settings=queues, item_rows=items)
def test_python_and_sql_agree_on_stored_business_deadlines(queue_settings, item_rows):
    # Items around NOW (a Sunday, 12:00 UTC) in a queue open a few minutes at a time.
    assert NOW.weekday() == 6
    build(queue_settings, item_rows)
    BusinessHours.objects.all().delete()
    hours = services.business_hours_save(
        hours=BusinessHours(name="Minutes", time_zone="UTC"), actor=None,
        intervals=[IntervalRow(weekday=6, opens_at=time(11, 57), closes_at=time(11, 59)),
                   IntervalRow(weekday=6, opens_at=time(12, 0, 30), closes_at=time(12, 2)),
                   IntervalRow(weekday=6, opens_at=time(12, 4), closes_at=time(0))])
    Queue.objects.update(business_hours=hours)
    for item in WorkItem.objects.select_related("queue"):
        service_levels.deadlines_apply(item, item.queue)
        item.save(update_fields=list(DEADLINES))
    built = list(WorkItem.objects.select_related("queue").order_by("id"))
    schedule = schedules.schedule_for_hours(hours.pk)

    for kind, threshold in service_levels.THRESHOLDS.items():
        assert sql_rows(service_levels.due_sql(kind)) == {
            item.pk: service_levels.due_at(kind, item) for item in built}
        due_now = set(WorkItem.objects.filter(service_levels.due_by(kind, NOW)).values_list("id", flat=True))
        assert due_now == {item.pk for item in built
                           if (due := service_levels.due_at(kind, item)) is not None and due <= NOW}
        for item in built:  # each wait counted in open time
            seconds = service_levels.wait_seconds(kind, item.queue)
            due = service_levels.due_at(kind, item)
            assert (due is None) == (seconds is None)
            if due is not None:
                assert business_seconds(schedule, getattr(item, threshold.start), due) == pytest.approx(seconds)
    breached = set(sql_rows("TRUE", service_levels.breached_sql()))
    assert breached == {item.pk for item in built if service_levels.breached(item, now=NOW)}
    met = set(sql_rows("TRUE", service_levels.met_sql()))
    assert met == {item.pk for item in built if item.answered_at is not None
                   and not service_levels.breached(item, now=NOW)}
