"""The service-level rule in Python and in SQL gives the same answers (routing.service_levels)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing import service_levels
from routing.models import Queue, WorkItem, WorkItemEventKind

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KINDS = list(service_levels.THRESHOLDS)
# Whole seconds, so times often fall exactly on a deadline: the boundary is where copies differ.
seconds = st.integers(min_value=0, max_value=400)
maybe_seconds = st.none() | seconds

queues = st.fixed_dictionaries({
    "target_wait_seconds": st.integers(min_value=1, max_value=300),
    "escalate_at_percent": st.integers(min_value=1, max_value=100),
    "relax_optional_after_seconds": st.none() | st.integers(min_value=0, max_value=300),
    "overflow_after_seconds": st.none() | st.integers(min_value=0, max_value=300),
})
items = st.lists(st.fixed_dictionaries({
    "enqueued_ago": seconds, "queued_after": seconds, "answered_after": maybe_seconds,
    "completed_after": maybe_seconds, "breached_after": maybe_seconds,
}), min_size=1, max_size=12)


def build(queue_settings: dict, item_rows: list[dict]) -> list[WorkItem]:
    WorkItem.objects.all().delete()
    Queue.objects.all().delete()
    queue = Queue.objects.create(key="q", name="Q", **queue_settings)
    created = []
    for number, row in enumerate(item_rows):
        enqueued = NOW - timedelta(seconds=row["enqueued_ago"])

        def after(key: str, enqueued: datetime = enqueued, row: dict = row) -> datetime | None:
            return None if row[key] is None else enqueued + timedelta(seconds=row[key])
        created.append(WorkItem.objects.create(
            conversation_id=number + 1, channel="chat", language="es", contact_kind="customer",
            queue=queue, queue_priority=queue.priority, enqueued_at=enqueued,
            queued_at=enqueued + timedelta(seconds=row["queued_after"]),
            answered_at=after("answered_after"), completed_at=after("completed_after"),
            sla_breached_at=after("breached_after"), state="completed" if row["completed_after"] else "waiting",
        ))
    return list(WorkItem.objects.select_related("queue").order_by("id"))


def sql_rows(select: str, where: str = "TRUE") -> dict[int, object]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT i.id, {select} FROM {WorkItem._meta.db_table} i "
                       f"JOIN {Queue._meta.db_table} q ON q.id = i.queue_id WHERE {where}", {"now": NOW})
        return dict(cursor.fetchall())


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(queue_settings=queues, item_rows=items)
def test_python_and_sql_agree_on_when_each_step_falls_due_and_on_the_breach(queue_settings, item_rows):
    built = build(queue_settings, item_rows)

    for kind in KINDS:
        # When it falls due, to the microsecond, in raw SQL and as a Django expression.
        assert sql_rows(service_levels.due_sql(kind)) == {
            item.pk: service_levels.due_at(kind, item) for item in built}
        due_now = set(WorkItem.objects.filter(service_levels.due_by(kind, NOW)).values_list("id", flat=True))
        assert due_now == {item.pk for item in built
                           if (due := service_levels.due_at(kind, item)) is not None and due <= NOW}

    breached = set(sql_rows("TRUE", service_levels.breached_sql()))
    assert breached == {item.pk for item in built if service_levels.breached(item, now=NOW)}
    met = set(sql_rows("TRUE", service_levels.met_sql()))
    assert met == {item.pk for item in built if item.answered_at is not None
                   and not service_levels.breached(item, now=NOW)}


def test_reaching_an_agent_at_the_deadline_is_a_breach(django_db_setup):
    queue = Queue(key="q", target_wait_seconds=60)
    item = WorkItem(queue=queue, enqueued_at=NOW - timedelta(seconds=60), answered_at=NOW)
    assert service_levels.breached(item, now=NOW)
    item.answered_at = NOW - timedelta(microseconds=1)
    assert not service_levels.breached(item, now=NOW + timedelta(hours=1))
    assert service_levels.due_at(WorkItemEventKind.BREACHED, item) == NOW
