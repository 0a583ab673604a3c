"""What the admin refuses before a workflow is saved, with a message for each problem."""

from __future__ import annotations

import pytest

from tests.workflows.conftest import APOLOGY, recovery_definition
from timeline.events import known_kinds
from workflows.definitions import definition_errors, run_key_render


def _errors(**changes):
    return " ".join(definition_errors(recovery_definition(**changes), known_kinds=known_kinds()))


def test_the_recovery_workflow_is_valid(mailbox) -> None:
    assert definition_errors(recovery_definition(), known_kinds=known_kinds()) == []


@pytest.mark.parametrize(("changes", "fragment"), [
    ({"trigger": {"type": "event", "kinds": ["order.exploded"]}}, "unknown events order.exploded"),
    ({"trigger": {"type": "sometimes"}}, "is not one of event, timer, schedule"),
    ({"trigger": {"type": "timer", "kinds": ["order.delayed"], "at": "order.eaten_at", "minutes": 5}},
     "not a time on the record"),
    ({"trigger": {"type": "timer", "kinds": ["order.delayed"]}}, "trigger.minutes"),
    ({"trigger": {"type": "schedule", "cron": "every day", "segment": 1}}, "not a cron expression"),
    ({"trigger": {"type": "schedule", "cron": "0 9 * * 1", "segment": 1, "timezone": "Mars/Base"}},
     "not a time zone"),
    ({"trigger": {"type": "event", "kinds": ["contact.updated"]}}, "unknown attribute 'order.total'"),
    ({"steps": [{"action": "teleport"}]}, "unknown action 'teleport'"),
    ({"steps": []}, "at least one step"),
    ({"steps": [{"action": "oms_rebate", "params": {"amount": "-5"}}]}, "amount"),
    ({"steps": [{"action": "send_message", "params": {"channel": "pigeon", "template": APOLOGY}}]},
     "not a channel"),
    ({"steps": [{"action": "send_message", "params": {
        "channel": "test_mail", "template": {"en": {"subject": "", "body": "{{ contact.password }}"}}}}]},
     "unknown variable {{ contact.password }}"),
    ({"steps": [{"action": "wait", "params": {"minutes": 0}}]}, "minutes"),
    ({"run_key": "{workflow}:{banana}"}, "unknown fields banana"),
    ({"limit": {"count": 0, "days": 7}}, "limit:"),
    ({"conditions": {"attribute": "contact.tags", "op": "gt", "value": 1}}, "does not fit"),
])
def test_bad_definitions_are_refused_with_a_message(mailbox, changes, fragment) -> None:
    definition = recovery_definition(**changes)
    if "trigger" in changes and changes["trigger"].get("kinds") == ["contact.updated"]:
        definition["conditions"] = {"attribute": "order.total", "op": "gt", "value": 1}
    assert fragment in " ".join(definition_errors(definition, known_kinds=known_kinds()))


def test_run_keys() -> None:
    assert run_key_render("", workflow_id=3, contact_id=7, subject_type="order", subject_id=9) == "3:order:9"
    assert run_key_render("{workflow}:{contact}", workflow_id=3, contact_id=7, subject_type="order",
                          subject_id=9) == "3:7"
    assert run_key_render("", workflow_id=3, contact_id=7, subject_type="contact", subject_id=7,
                          fired="2026-01-01T09:00:00+00:00") == "3:contact:7:2026-01-01T09:00:00+00:00"
