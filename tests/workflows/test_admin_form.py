"""The workflows admin's form: every mistake an error on its own field, a missing translation a
warning; and the admin is for supervisors only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import AgentFactory, AgentProfileFactory, SupervisorFactory, UserFactory
from workflows import registry
from workflows.admin.forms import WorkflowForm


def _params_errors(params: Any) -> list[str]:
    return [] if params.get("amount") else ["amount: give an amount such as 5.00."]


@pytest.fixture(autouse=True)
def _actions_registered():
    """Whatever the engine registers, these two exist for the form to check against."""
    before = registry.actions()
    registry.action_register("test_message", label="message", params_errors=lambda params: [],
                             run=lambda params, context: registry.StepResult())
    registry.action_register("test_rebate", label="rebate", params_errors=_params_errors,
                             run=lambda params, context: registry.StepResult())
    yield
    registry._actions.clear()
    registry._actions.update(before)


TEMPLATE = {"en": {"subject": "Sorry, {{ contact.first_name }}", "body": "Order {{ order.id }} is late."},
            "es": {"subject": "Lo sentimos", "body": "Tu pedido {{ order.id }} llega tarde."}}


def data(**changes: Any) -> dict[str, str]:
    values = {
        "key": "recovery", "name": "Recovery", "description": "", "is_enabled": "on",
        "trigger": {"type": "event", "kinds": ["order.delayed"]},
        "conditions": {"all": [{"attribute": "contact.lifetime_order_value", "op": "gte", "value": 300}]},
        "steps": [{"action": "test_message", "params": {"template": TEMPLATE}},
                  {"action": "test_rebate", "params": {"amount": "5.00"}}],
        "run_key": "", "limit_count": "1", "limit_days": "7", "max_depth": "",
    }
    values.update(changes)
    return {name: json.dumps(value) if isinstance(value, dict | list) else value for name, value in values.items()}


@pytest.mark.django_db
def test_a_valid_definition_passes_and_gives_the_draft():
    AgentProfileFactory(languages=["en", "es"])
    form = WorkflowForm(data())

    assert form.is_valid(), form.errors
    assert form.definition()["limit"] == {"count": 1, "days": 7}
    assert form.definition()["steps"][1]["action"] == "test_rebate"
    assert form.warnings == []


@pytest.mark.django_db
@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"conditions": {"all": [{"attribute": "contact.shoe_size", "op": "eq", "value": 42}]}}, "conditions",
     "contact.shoe_size"),
    ({"conditions": {"all": [{"attribute": "contact.tags", "op": "gt", "value": 3}]}}, "conditions", "gt"),
    ({"conditions": {"all": [{"attribute": "conversation.queue", "op": "eq", "value": "vip"}]}}, "conditions",
     "conversation.queue"),  # an order event's runs have no conversation
    ({"steps": [{"action": "test_message", "params": {"template": {"en": {
        "subject": "Hi", "body": "{{ contact.password }}"}}}}]}, "steps", "contact.password"),
    ({"steps": [{"action": "launch_rockets", "params": {}}]}, "steps", "launch_rockets"),
    ({"steps": [{"action": "test_rebate", "params": {}}]}, "steps", "amount"),
    ({"steps": []}, "steps", "one step"),
    ({"trigger": ["order.delayed"]}, "trigger", "JSON object"),
    ({"trigger": "{not json"}, "trigger", "JSON"),
    ({"limit_days": ""}, "limit_days", "neither"),
])
def test_each_mistake_is_an_error_on_its_field(changes, field, words):
    form = WorkflowForm(data(**changes))

    assert not form.is_valid()
    assert field in form.errors, form.errors
    assert words in " ".join(form.errors[field]), form.errors[field]


@pytest.mark.django_db
def test_a_language_the_desk_serves_without_a_text_is_a_warning_not_an_error():
    AgentProfileFactory(languages=["en", "es", "fr"])
    AgentProfileFactory(languages=["ka"])

    form = WorkflowForm(data())

    assert form.is_valid(), form.errors
    assert len(form.warnings) == 1 and "fr, ka" in form.warnings[0]


@pytest.mark.django_db
def test_the_workflows_admin_is_for_supervisors_only():
    staff = UserFactory(is_staff=True)
    agent = AgentFactory(is_staff=True)
    supervisor = SupervisorFactory(is_staff=True)
    urls = [reverse("admin:workflows_workflow_add"), reverse("admin:workflows_workflowrun_changelist"),
            reverse("admin:workflows_workflowaudit_changelist"), reverse("admin:workflows_workflow_dry_run")]

    answers = {}
    for name, user in (("staff", staff), ("agent", agent), ("supervisor", supervisor)):
        client = Client()
        client.force_login(user)
        answers[name] = [client.get(url).status_code for url in urls]

    assert answers["staff"] == answers["agent"] == [403, 403, 403, 403]
    assert answers["supervisor"] == [200, 200, 200, 200]


@pytest.mark.django_db
def test_the_admin_takes_a_message_received_trigger_whose_texts_quote_the_message():
    AgentProfileFactory(languages=["en"])
    quoting = {"en": {"subject": "Got it", "body": "You wrote: {{ message.excerpt }}"}}
    steps = [{"action": "test_message", "params": {"template": quoting}}]
    on_message = WorkflowForm(data(trigger={"type": "event", "kinds": ["message.received"]}, steps=steps,
                                   conditions={"all": [{"attribute": "conversation.channel", "op": "eq",
                                                        "value": "chat"}]}, run_key="{workflow}:{message}"))
    on_order = WorkflowForm(data(steps=steps))
    on_timer = WorkflowForm(data(trigger={"type": "timer", "kinds": ["message.received"], "minutes": 5},
                                 steps=steps))

    assert on_message.is_valid(), on_message.errors
    assert not on_order.is_valid() and "message.excerpt" in str(on_order.errors["steps"])
    assert not on_timer.is_valid() and "message.received" in str(on_timer.errors["trigger"])
