"""A segment feeding a routing queue: one audit task per member, never two."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from conversations.models import Conversation
from routing.models import Queue, WorkItem
from tests.factories import ContactFactory
from timeline import events
from timeline.models import Contact
from workflows.segments import services
from workflows.segments.models import Segment

pytestmark = pytest.mark.django_db

HIGH_VALUE = {"attribute": "contact.lifetime_order_value", "op": "gte", "value": 300}


@pytest.fixture(autouse=True)
def _tasks_in_process(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True


def audit_tasks(queue: Queue) -> list[Conversation]:
    ids = WorkItem.objects.filter(queue=queue).values_list("conversation_id", flat=True)
    return list(Conversation.objects.filter(channel="task", pk__in=list(ids)).order_by("contact_id"))


def test_members_get_one_audit_task_each_in_the_queue(django_capture_on_commit_callbacks) -> None:
    queue = Queue.objects.create(key="service-audit", name="Service audit")
    rich = [ContactFactory(lifetime_order_value=Decimal("800")) for _ in range(3)]
    ContactFactory(lifetime_order_value=Decimal("8"))
    # When a segment feeding the audit queue is created
    with django_capture_on_commit_callbacks(execute=True):
        segment = Segment(name="Audit", key="audit", conditions=HIGH_VALUE, feed_queue=queue)
        services.segment_save(segment=segment)
    # Then each member has one task, routed into the queue like any work
    tasks = audit_tasks(queue)
    assert sorted(task.contact_id for task in tasks) == sorted(contact.pk for contact in rich)
    assert WorkItem.objects.filter(queue=queue).count() == 3
    assert "Audit" in tasks[0].subject


def test_feeding_again_opens_nothing_new(django_capture_on_commit_callbacks) -> None:
    queue = Queue.objects.create(key="service-audit", name="Service audit")
    contact = ContactFactory(lifetime_order_value=Decimal("800"))
    with django_capture_on_commit_callbacks(execute=True):
        segment = Segment(name="Audit", key="audit", conditions=HIGH_VALUE, feed_queue=queue)
        services.segment_save(segment=segment)
    # When the feed is retried, and the contact leaves and enters again
    services.segment_feed(segment_id=segment.pk, contact_ids=[contact.pk])
    with django_capture_on_commit_callbacks(execute=True):
        Contact.objects.filter(pk=contact.pk).update(lifetime_order_value=Decimal("1"))
        events.contact_updated_event(contact=contact, changes={"v": 1}, occurred_at=timezone.now(), actor="oms")
        services.membership_drain()
        Contact.objects.filter(pk=contact.pk).update(lifetime_order_value=Decimal("900"))
        events.contact_updated_event(contact=contact, changes={"v": 2}, occurred_at=timezone.now(), actor="oms")
        services.membership_drain()
    # Then there is still one task: the key is the segment and the contact
    assert len(audit_tasks(queue)) == 1


def test_a_new_member_from_an_event_gets_a_task(django_capture_on_commit_callbacks) -> None:
    queue = Queue.objects.create(key="service-audit", name="Service audit")
    segment = Segment(name="Audit", key="audit", conditions=HIGH_VALUE, feed_queue=queue)
    services.segment_save(segment=segment)
    contact = ContactFactory(lifetime_order_value=Decimal("1"))
    with django_capture_on_commit_callbacks(execute=True):
        Contact.objects.filter(pk=contact.pk).update(lifetime_order_value=Decimal("900"))
        events.contact_updated_event(contact=contact, changes={"v": 2}, occurred_at=timezone.now(), actor="oms")
        services.membership_drain()
    assert [task.contact_id for task in audit_tasks(queue)] == [contact.pk]
