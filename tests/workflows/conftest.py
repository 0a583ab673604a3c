"""Helpers for the engine's tests: the seed's recovery workflow, a recording email channel
at the edge (the SMTP server is the admin part's), the fake OMS, and the drain/advance loop
the worker runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from integrations.oms import client as oms_client
from tests.factories import ContactFactory, OrderFactory
from timeline import events
from workflows import registry
from workflows.models import RunStatus, WorkflowRun
from workflows.services import run_advance, triggers_drain, workflow_enable, workflow_save
from workflows.services.triggers import listened_kinds_clear

APOLOGY = {
    "en": {"subject": "Sorry about order {{ order.id }}", "body": "Hi {{ contact.first_name }}, "
           "we granted you {{ rebate.amount }} {{ rebate.currency }}."},
    "es": {"subject": "Perdón por el pedido {{ order.id }}", "body": "Hola {{ contact.first_name }}, "
           "te devolvemos {{ rebate.amount }} {{ rebate.currency }}."},
}
UNHAPPY_HIGH_VALUE = {"all": [
    {"attribute": "contact.lifetime_order_value", "op": "gte", "value": 300},
    {"any": [{"attribute": "contact.last_rating", "op": "lte", "value": 2},
             {"attribute": "contact.rating_avg_90d", "op": "lt", "value": 3}]},
]}


def recovery_definition(**changes: Any) -> dict[str, Any]:
    definition = {
        "trigger": {"type": "event", "kinds": ["order.delayed"]},
        "conditions": UNHAPPY_HIGH_VALUE,
        "steps": [{"action": "oms_rebate", "params": {"amount": "5.00", "reason": "late order"}},
                  {"action": "send_message", "params": {"channel": "test_mail", "template": APOLOGY}}],
        "run_key": "{workflow}:{order}",
        "limit": {"count": 1, "days": 7},
    }
    definition.update(changes)
    return definition


@dataclass
class Mailbox:
    """Every send the channel was asked for: (idempotency key, to, subject, body)."""

    sends: list[tuple[str, str, str, str]] = field(default_factory=list)

    def send(self, contact: Any, rendered: Any, *, idempotency_key: str, context: Any) -> str:
        self.sends.append((idempotency_key, contact.email, rendered.subject, rendered.body))
        return f"<{idempotency_key}@test>"

    @property
    def distinct(self) -> set[str]:
        return {key for key, *_ in self.sends}


@pytest.fixture
def mailbox() -> Mailbox:
    box = Mailbox()
    registry.channel_register("test_mail", label="Test mail", send=box.send)
    yield box
    registry._channels.pop("test_mail", None)


@pytest.fixture
def oms(monkeypatch, settings) -> oms_client.FakeOmsClient:
    """The fake OMS (dedupes on the idempotency key like the real one), counting calls."""
    settings.OMS_CLIENT = "fake"
    fake = oms_client.FakeOmsClient()
    fake.calls = []
    issue = fake.issue_rebate

    def counted(**kwargs):
        fake.calls.append(kwargs["idempotency_key"])
        return issue(**kwargs)

    fake.issue_rebate = counted
    monkeypatch.setattr(oms_client, "_fake", fake)
    return fake


@pytest.fixture(autouse=True)
def _kinds_fresh():
    listened_kinds_clear()
    yield
    listened_kinds_clear()


def workflow_published(key: str = "recovery", *, enabled: bool = True, **definition: Any):
    workflow, version = workflow_save(key=key, name=key.title(), definition=recovery_definition(**definition))
    if enabled:
        workflow = workflow_enable(workflow_id=workflow.pk)
        listened_kinds_clear()
    return workflow, version


def unhappy_customer(**fields: Any):
    values = {"lifetime_order_value": Decimal("420.00"), "last_rating": 2, "preferred_language": "es",
              "country": "ES", "name": "Ana García"}
    values.update(fields)
    return ContactFactory(**values)


def order_delayed(order, *, minutes: int = 20, actor: str = "oms"):
    order.is_delayed = True
    order.delay_minutes = minutes
    order.promised_at = (order.promised_at or timezone.now()) + timedelta(minutes=minutes)
    order.save()
    return events.order_delayed_event(contact_id=order.customer_id, order=order, delay_minutes=minutes,
                                      reason="traffic", occurred_at=timezone.now(), actor=actor)


def late_order_for(contact, **fields: Any):
    return OrderFactory(customer=contact, promised_at=timezone.now() - timedelta(minutes=30), **fields)


def work(now=None) -> list[WorkflowRun]:
    """What the worker does: drain the triggers, then advance every run that can go on."""
    while triggers_drain().handled:
        pass
    for run in WorkflowRun.objects.filter(status=RunStatus.RUNNING):
        run_advance(run.pk, now=now)
    return list(WorkflowRun.objects.order_by("pk"))
