"""The dry run replays the last N days through a draft and writes nothing at all."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from supportdesk.models import OutboxEntry
from tests.workflows.conftest import late_order_for, recovery_definition, unhappy_customer, workflow_published
from timeline import events
from workflows.services import DefinitionInvalid, dry_run

pytestmark = pytest.mark.django_db


def _row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()
            if model._meta.managed and not model._meta.proxy}


def test_dry_run_lists_who_it_would_have_acted_on_and_writes_nothing(oms, mailbox) -> None:
    workflow_published("other", enabled=True)  # an enabled workflow: its outbox must not grow either
    unhappy = unhappy_customer()
    happy = unhappy_customer(last_rating=5, rating_avg_90d=5)
    now = timezone.now()
    recent, old = late_order_for(unhappy), late_order_for(unhappy)
    for order, when in ((recent, now - timedelta(days=1)), (old, now - timedelta(days=10))):
        events.order_delayed_event(contact_id=unhappy.pk, order=order, delay_minutes=20, reason="",
                                   occurred_at=when, actor="oms")
    events.order_delayed_event(contact_id=happy.pk, order=late_order_for(happy), delay_minutes=20, reason="",
                               occurred_at=now, actor="oms")
    OutboxEntry.objects.all().delete()
    before = _row_counts()

    would = dry_run(recovery_definition(), days=7)

    assert _row_counts() == before
    assert not OutboxEntry.objects.exists() and not oms.calls and not mailbox.sends
    [run] = would
    assert run.contact_id == unhappy.pk and run.subject_id == recent.pk and run.trigger == "order.delayed"
    assert run.steps[0] == "grant a 5.00 rebate"
    assert run.steps[1].startswith(f"send “Perdón por el pedido {recent.external_id}” by test_mail in es")
    # Over 14 days both delays count, but the per-contact limit (1 in 7 days) skips the second.
    wider = dry_run(recovery_definition(), days=14)
    assert [item.skipped_by_limit for item in wider] == [False, True]


def test_dry_run_refuses_an_invalid_draft(mailbox) -> None:
    with pytest.raises(DefinitionInvalid) as refused:
        dry_run(recovery_definition(steps=[]), days=7)
    assert "at least one step" in str(refused.value)
