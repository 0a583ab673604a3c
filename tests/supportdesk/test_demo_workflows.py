"""The demo's recovery workflow: shipped enabled through the engine's services, with an apology
in every agent's language, and the OMS delay `manage.py demo_order_delay` sends makes it act."""

from __future__ import annotations

import json

import pytest
from django.conf import settings as django_settings

from integrations.models import MailboxMessage
from integrations.oms.signature import signed_headers
from integrations.services import oms_events_drain, oms_webhook_receive
from supportdesk.demo.agents import AGENTS
from supportdesk.demo.workflows import (
    APOLOGY,
    RECOVERY_KEY,
    UNHAPPY_CUSTOMER,
    demo_customer_for,
    demo_order_delay_events,
    demo_unhappy_customer_ensure,
    demo_workflows_ensure,
    recovery_definition,
)
from workflows.definitions import definition_errors, trigger_scopes
from workflows.models import RunStatus, Workflow, WorkflowRun
from workflows.services import workflow_disable
from workflows.tasks import workflows_tick
from workflows.templates import allowed_variables, template_errors, template_render


def test_the_apology_has_a_valid_text_in_every_native_language_of_the_demo_agents():
    natives = {spec.languages[0] for spec in AGENTS}
    scopes = trigger_scopes(recovery_definition()["trigger"])

    assert natives <= set(APOLOGY)
    assert template_errors(APOLOGY, allowed_variables(scopes)) == []
    rendered = template_render(APOLOGY, language="uk", country="UA", variables={
        "contact.first_name": "Олена", "order.id": "O-1", "coupon.amount": "5.00", "coupon.currency": "EUR"})
    assert rendered.subject == "Просимо вибачення: ваше замовлення O-1 затримується"
    assert "Олена" in rendered.body and "5.00 EUR" in rendered.body


@pytest.mark.django_db
def test_the_recovery_workflow_is_published_enabled_once_and_a_supervisors_change_is_kept():
    assert definition_errors(recovery_definition()) == []

    workflow = demo_workflows_ensure()
    workflow_disable(workflow_id=workflow.pk)  # a supervisor switched it off
    again = demo_workflows_ensure()

    assert again.pk == workflow.pk and Workflow.objects.get(key=RECOVERY_KEY).is_enabled is False
    assert workflow.current_version.number == 1 and workflow.versions.count() == 1


@pytest.mark.django_db
def test_each_language_has_its_own_unhappy_customer_for_the_demo():
    korean = demo_unhappy_customer_ensure(customer=demo_customer_for("ko"))

    assert demo_customer_for("es") == UNHAPPY_CUSTOMER
    assert (korean.preferred_language, korean.country, korean.external_id) == ("ko", "KR", "C-VIP-KO")
    assert korean.lifetime_order_value >= 300 and korean.last_rating == 2


@pytest.mark.django_db
def test_the_unhappy_customer_is_high_value_and_unhappy():
    contact = demo_unhappy_customer_ensure()
    again = demo_unhappy_customer_ensure()

    assert again.pk == contact.pk
    assert contact.lifetime_order_value >= 300 and contact.last_rating == 2
    assert contact.external_id == UNHAPPY_CUSTOMER.external_id


def _deliver(event: dict) -> None:
    """As the OMS's signed webhook arrives (integrations.webhooks calls the same service)."""
    body = json.dumps(event).encode()
    headers = signed_headers(secret=django_settings.OMS_WEBHOOK_SECRET, body=body)
    oms_webhook_receive(body=body, timestamp=headers["X-OMS-Timestamp"],
                        signature_header=headers["X-OMS-Signature"])


def test_the_demos_oms_delay_gets_one_apology_in_spanish_and_one_coupon(smtp_sink, fake_oms, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    demo_workflows_ensure()
    contact = demo_unhappy_customer_ensure()

    for event in demo_order_delay_events(late_in_seconds=0):
        _deliver(event)
    oms_events_drain()
    workflows_tick()
    workflows_tick()  # again: nothing more happens

    run = WorkflowRun.objects.get()
    assert (run.contact_id, run.status) == (contact.pk, RunStatus.DONE), run.error
    email = MailboxMessage.objects.get()
    assert email.recipients == UNHAPPY_CUSTOMER.email and email.subject.startswith("Lo sentimos")
    assert "5.00 EUR" in email.body
    assert [(call["kind"], call["amount"]) for call in fake_oms.calls()] == [("coupon", "5.00")]
