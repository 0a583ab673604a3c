"""The timeline as the desk shows it: who acted, by name, and no empty values ("promised_at
None", "by user:3" were what it showed)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from tests.factories import AgentProfileFactory, ContactFactory, OrderFactory, UserFactory
from timeline import events
from timeline.display import event_facts

pytestmark = pytest.mark.django_db

AT = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def _rows_html(response) -> str:
    html = response.content.decode()
    start = html.index('data-testid="timeline"')
    return html[start:html.index("</ol>", start)]


def test_actors_are_named_and_empty_values_left_out(client):
    client.force_login(AgentProfileFactory().user)
    colleague = UserFactory(first_name="Marta", last_name="Ruiz")
    contact = ContactFactory()
    order = OrderFactory(customer=contact, promised_at=None)
    events.order_delayed_event(contact_id=contact.pk, order=order, delay_minutes=20, reason="",
                               occurred_at=AT, actor="oms")
    events.conversation_status_changed_event(contact_id=contact.pk, conversation_id=1, status="resolved",
                                             occurred_at=AT, actor=f"user:{colleague.pk}")

    rows = _rows_html(client.get(f"/desk/contacts/{contact.pk}/"))

    assert f"by user:{colleague.pk}" not in rows and "by Marta Ruiz" in rows
    assert "None" not in rows and "promised_at" not in rows and "<dt>reason</dt>" not in rows
    actors = re.findall(r'data-testid="event-actor">([^<]*)<', rows)
    assert actors == ["by Marta Ruiz", "by the order system"]
    assert "<dt>delay_minutes</dt><dd>20</dd>" in rows


def test_a_deleted_user_is_a_former_user_not_an_id(client):
    client.force_login(AgentProfileFactory().user)
    contact = ContactFactory()
    events.conversation_status_changed_event(contact_id=contact.pk, conversation_id=1, status="closed",
                                             occurred_at=AT, actor="user:999999")

    rows = _rows_html(client.get(f"/desk/contacts/{contact.pk}/"))

    assert "user:999999" not in rows
    assert re.findall(r'data-testid="event-actor">([^<]*)<', rows) == ["by a former user"]


def test_facts_leave_out_empty_values_inside_changes_too():
    facts = event_facts({"order": "O-1", "changes": {"promised_at": None, "status": "delayed"},
                         "filled": [], "note": "", "total": 0})

    assert facts == [("order", "O-1"), ("changes", "status: delayed"), ("total", "0")]


def test_a_workflow_run_reads_as_a_sentence_by_a_workflow(client):
    client.force_login(AgentProfileFactory().user)
    contact = ContactFactory()
    events.workflow_run_event(contact_id=contact.pk, run_id=17, workflow="Late order recovery", version=2,
                              status="done", summary="granted a 5.00 EUR rebate; sent “Sorry” by email",
                              occurred_at=AT, actor="workflow:3:17")

    rows = _rows_html(client.get(f"/desk/contacts/{contact.pk}/"))

    assert ('data-testid="event-headline">Late order recovery: granted a 5.00 EUR rebate; '
            "sent “Sorry” by email<") in rows
    assert "by a workflow" in rows and "workflow:3:17" not in rows
    assert "<dt>summary</dt>" not in rows and "<dt>status</dt><dd>done</dd>" in rows
