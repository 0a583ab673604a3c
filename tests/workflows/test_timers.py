"""Timer triggers: N minutes after an event or after a time on the record, to the second,
moved by a newer event, firing only if the conditions still hold then."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import ConversationFactory, OrderFactory
from tests.workflows.conftest import UNHAPPY_HIGH_VALUE, unhappy_customer, work, workflow_published
from timeline import events
from workflows.models import RunStatus, WorkflowRun, WorkflowTimer
from workflows.services import timers_fire, triggers_drain

pytestmark = pytest.mark.django_db

PAST_PROMISE = {"type": "timer", "kinds": ["order.created", "order.delayed", "order.updated"],
                "at": "order.promised_at", "minutes": 15}
LATE_AND_UNDELIVERED = {"all": [
    UNHAPPY_HIGH_VALUE,
    {"attribute": "order.minutes_past_promise", "op": "gte", "value": 15},
    {"attribute": "order.status", "op": "not_in", "value": ["delivered", "cancelled"]},
]}


def _order_created(contact, promised_at):
    order = OrderFactory(customer=contact, promised_at=promised_at)
    events.order_created_event(contact_id=contact.pk, order=order, occurred_at=timezone.now(), actor="oms")
    return order


def test_fifteen_minutes_past_the_promised_time_to_the_second(oms, mailbox) -> None:
    workflow_published(trigger=PAST_PROMISE, conditions=LATE_AND_UNDELIVERED)
    promised = timezone.now().replace(microsecond=0) + timedelta(minutes=10, seconds=7)
    order = _order_created(unhappy_customer(), promised)
    triggers_drain()
    timer = WorkflowTimer.objects.get()
    assert timer.due_at == promised + timedelta(minutes=15)

    assert timers_fire(now=timer.due_at - timedelta(seconds=1)) == 0
    assert not WorkflowRun.objects.exists()
    assert timers_fire(now=timer.due_at) == 1
    run = WorkflowRun.objects.get()
    assert run.subject_id == order.pk and run.trigger["timer_due_at"] == timer.due_at.isoformat()
    assert not WorkflowTimer.objects.exists()


def test_a_promised_time_moved_later_moves_the_timer(oms, mailbox) -> None:
    workflow_published(trigger=PAST_PROMISE, conditions=LATE_AND_UNDELIVERED)
    promised = timezone.now().replace(microsecond=0) + timedelta(minutes=10)
    order = _order_created(unhappy_customer(), promised)
    triggers_drain()
    order.promised_at = promised + timedelta(minutes=20)
    order.save()
    events.order_delayed_event(contact_id=order.customer_id, order=order, delay_minutes=20, reason="rain",
                               occurred_at=timezone.now(), actor="oms")
    triggers_drain()
    timer = WorkflowTimer.objects.get()
    assert timer.due_at == promised + timedelta(minutes=35)
    assert timers_fire(now=promised + timedelta(minutes=15)) == 0  # the old time: nothing


def test_a_timer_does_not_act_when_the_conditions_no_longer_hold(oms, mailbox) -> None:
    workflow_published(trigger=PAST_PROMISE, conditions=LATE_AND_UNDELIVERED)
    promised = timezone.now() + timedelta(minutes=5)
    order = _order_created(unhappy_customer(), promised)
    triggers_drain()
    order.status = "delivered"
    order.delivered_at = promised
    order.save()
    assert timers_fire(now=promised + timedelta(minutes=16)) == 1
    assert not WorkflowRun.objects.exists() and not oms.calls


def test_n_minutes_after_an_event(oms, mailbox) -> None:
    workflow_published(
        trigger={"type": "timer", "kinds": ["conversation.opened"], "minutes": 10}, limit=None,
        conditions={"attribute": "conversation.status", "op": "eq", "value": "open"},
        steps=[{"action": "set_conversation_attribute", "params": {"name": "nudged", "value": True}}])
    conversation = ConversationFactory(contact=unhappy_customer())
    opened_at = timezone.now().replace(microsecond=0)
    events.conversation_opened_event(contact_id=conversation.contact_id, conversation_id=conversation.pk,
                                     channel="chat", subject="", occurred_at=opened_at, actor="contact")
    triggers_drain()
    assert WorkflowTimer.objects.get().due_at == opened_at + timedelta(minutes=10)
    timers_fire(now=opened_at + timedelta(minutes=10))
    [run] = work()
    conversation.refresh_from_db()
    assert run.status == RunStatus.DONE and conversation.attributes == {"nudged": True}


def test_disabling_drops_armed_timers(oms, mailbox) -> None:
    from workflows.services import workflow_disable

    workflow, _ = workflow_published(trigger=PAST_PROMISE, conditions=LATE_AND_UNDELIVERED)
    _order_created(unhappy_customer(), timezone.now())
    triggers_drain()
    workflow_disable(workflow_id=workflow.pk)
    assert not WorkflowTimer.objects.exists()
