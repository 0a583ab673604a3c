"""Issue 12's end-to-end test in a real browser: a supervisor builds the recovery workflow in the
admin, dry-runs it, enables it; an OMS delay (a signed webhook) for a high-value unhappy customer
produces the apology email (seen on the local mailbox page) and the coupon call (seen by the fake
OMS), once; and both show on the customer's page."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from integrations.models import MailboxMessage
from integrations.oms.signature import signed_headers
from integrations.services import oms_events_drain
from supportdesk.demo.workflows import recovery_definition
from tests.browser.desk import desk_prepare
from tests.factories import AgentProfileFactory, ContactFactory, OrderFactory
from timeline.models import Contact
from workflows.models import RunStatus, Workflow, WorkflowRun
from workflows.tasks import workflows_tick

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _webhook(server_url: str, event: dict) -> None:
    body = json.dumps(event).encode()
    headers = signed_headers(secret=django_settings.OMS_WEBHOOK_SECRET, body=body)
    response = requests.post(f"{server_url}/integrations/oms/webhook", data=body, timeout=10,
                             headers={"Content-Type": "application/json", **headers})
    assert response.status_code < 300, response.text


def _delayed(order_id: str, *, promised_at, delay_minutes: int) -> dict:
    return {"id": f"evt_{uuid.uuid4().hex}", "type": "order.delayed", "occurred_at": timezone.now().isoformat(),
            "data": {"order": {"id": order_id, "promised_at": promised_at.isoformat()},
                     "delay_minutes": delay_minutes, "reason": "courier stuck in traffic"}}


def _process() -> None:
    """What the worker and beat do in `make run`: the OMS events, then the workflows' tick."""
    oms_events_drain()
    workflows_tick()


def test_a_supervisor_builds_dry_runs_and_enables_the_recovery_workflow(asgi_server, page, settings, smtp_sink,
                                                                        fake_oms):
    desk_prepare(settings)
    get_user_model().objects.create_superuser("supervisor", "supervisor@example.com", "supervisor")
    AgentProfileFactory(languages=["es", "en"])
    lucia = ContactFactory(name="Lucía Fernández", email="lucia@example.com", preferred_language="es",
                           country="ES")
    OrderFactory(customer=lucia, external_id="O-PAST", total=Decimal("420.00"), status="delivered")
    Contact.objects.filter(pk=lucia.pk).update(lifetime_order_value=Decimal("420.00"), last_rating=2,
                                               rating_avg_90d=Decimal("2.50"), rating_count=2)
    happy = ContactFactory(name="Pau Happy", email="pau@example.com")
    Contact.objects.filter(pk=happy.pk).update(lifetime_order_value=Decimal("900.00"), last_rating=5)
    promised = timezone.now() - timedelta(minutes=20)
    late = OrderFactory(customer=lucia, external_id="O-LATE", status="in_delivery", promised_at=promised)
    OrderFactory(customer=happy, external_id="O-HAPPY", status="in_delivery", promised_at=promised)
    # Yesterday's delays, before the workflow existed: what the dry run replays.
    _webhook(asgi_server.url, _delayed("O-LATE", promised_at=promised, delay_minutes=10))
    _webhook(asgi_server.url, _delayed("O-HAPPY", promised_at=promised, delay_minutes=10))
    _process()

    # The supervisor writes the workflow in the admin.
    definition = recovery_definition()
    page.goto(asgi_server.url + "/admin/workflows/workflow/add/")
    page.fill("#id_username", "supervisor")
    page.fill("#id_password", "supervisor")
    page.click("input[type=submit]")
    page.fill("#id_key", "recovery")
    page.fill("#id_name", "Late order recovery")
    page.fill("#id_trigger", json.dumps(definition["trigger"]))
    page.fill("#id_conditions", json.dumps({"all": [{"attribute": "contact.shoe_size", "op": "eq", "value": 1}]}))
    page.fill("#id_steps", json.dumps(definition["steps"]))
    page.fill("#id_limit_count", "1")
    page.fill("#id_limit_days", "7")
    page.click("input[name=_save]")
    expect(page.locator(".errorlist").first).to_contain_text("contact.shoe_size")  # no such attribute
    assert not Workflow.objects.exists()

    # Fixed, then dry-run as a draft (not saved): Lucía would get the coupon and the email, Pau not.
    page.fill("#id_conditions", json.dumps(definition["conditions"]))
    page.click("[data-testid=dry-run]")
    result = page.frame_locator("iframe[name=workflow-dry-run]")
    expect(result.locator("[data-testid=dry-run-summary]")).to_contain_text("1 contact")
    expect(result.locator("[data-testid=dry-run-row]")).to_contain_text("Lucía Fernández")
    expect(result.locator("[data-testid=dry-run-row]")).to_contain_text("O-LATE")
    assert not Workflow.objects.exists() and not MailboxMessage.objects.exists() and fake_oms.calls() == []

    page.check("#id_is_enabled")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    workflow = Workflow.objects.get(key="recovery")
    assert workflow.is_enabled and workflow.current_version.number == 1

    # The OMS delays Lucía's order again: the timer (15 minutes past the promise) is due at once.
    delay = _delayed("O-LATE", promised_at=promised, delay_minutes=25)
    _webhook(asgi_server.url, delay)
    _process()
    # Delivered twice, delayed once more, a worker's retry: still one apology, one coupon.
    _webhook(asgi_server.url, delay)
    _webhook(asgi_server.url, _delayed("O-LATE", promised_at=promised, delay_minutes=40))
    _process()

    run = WorkflowRun.objects.get(workflow=workflow)
    assert run.status == RunStatus.DONE, run.error
    assert [call["kind"] for call in fake_oms.calls()] == ["coupon"]
    assert fake_oms.calls()[0]["subject"] == lucia.external_id and fake_oms.calls()[0]["replays"] == 0
    email = MailboxMessage.objects.get()
    assert (email.recipients, email.times_received) == ("lucia@example.com", 1)
    assert "O-LATE" in email.subject and "Lo sentimos" in email.subject  # her language

    page.goto(asgi_server.url + "/desk/mailbox/")
    expect(page.locator("[data-testid=mailbox-row]")).to_have_count(1)
    expect(page.locator("[data-testid=oms-call]")).to_have_count(1)
    expect(page.locator("[data-testid=oms-call]")).to_contain_text("5.00 EUR")
    page.click("[data-testid=mailbox-subject]")
    expect(page.locator("[data-testid=mailbox-message-body]")).to_contain_text("5.00 EUR")

    page.goto(asgi_server.url + f"/desk/contacts/{lucia.pk}/")
    timeline = page.locator("main")
    expect(timeline).to_contain_text("Late order recovery")
    expect(timeline).to_contain_text("5.00 EUR")

    # The list shows the statistics; the audit has the creation with its definition.
    page.goto(asgi_server.url + "/admin/workflows/workflow/")
    expect(page.locator("#result_list")).to_contain_text("v1")
    assert workflow.audit.get().action == "created" and late.pk
