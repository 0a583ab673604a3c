"""Each built-in action, run by the engine: tags, attributes, a task, a chat message, an
outbound URL (a real local HTTP server), a segment (absent here: the run fails, clearly)."""

from __future__ import annotations

import http.server
import json
import threading

import pytest
from django.utils import timezone

from conversations.models import Channel, Conversation, Message, MessageDirection
from routing.models import Queue, WorkItem
from tests.factories import ConversationFactory
from tests.workflows.conftest import late_order_for, order_delayed, unhappy_customer, work, workflow_published
from timeline import events
from workflows.definitions import definition_errors
from workflows.models import RunStatus, WorkflowRunStep

pytestmark = pytest.mark.django_db


def _run_with(steps, **definition):
    workflow_published(steps=steps, limit=None, **definition)
    contact = unhappy_customer(tags=["old", "keep"])
    order_delayed(late_order_for(contact))
    [run] = work()
    contact.refresh_from_db()
    return run, contact


def test_tags_and_contact_attributes(oms, mailbox) -> None:
    run, contact = _run_with([
        {"action": "add_tags", "params": {"tags": ["late", "keep"]}},
        {"action": "remove_tags", "params": {"tags": ["old"]}},
        {"action": "set_contact_attribute", "params": {"name": "recovery", "value": "offered"}},
    ])
    assert run.status == RunStatus.DONE
    assert sorted(contact.tags) == ["keep", "late"]
    assert contact.attributes["recovery"] == "offered"
    assert "tagged late, keep; untagged old; set recovery to offered" in run.summary


def test_open_task_routes_work_to_the_queue(oms, mailbox) -> None:
    Queue.objects.create(key="service_audit", name="Service audit")
    run, contact = _run_with([{"action": "open_task", "params": {
        "queue": "service_audit", "subject": "Audit a late order", "body": "Call them back."}}])
    task = Conversation.objects.get(contact=contact, channel=Channel.TASK)
    assert WorkItem.objects.get(conversation_id=task.pk).queue.key == "service_audit"
    assert WorkflowRunStep.objects.get(run=run).result["data"] == {"conversation": task.pk}


def test_open_task_in_a_missing_queue_fails_the_run_with_a_reason(oms, mailbox) -> None:
    run, _ = _run_with([{"action": "open_task", "params": {"queue": "nope", "subject": "Audit"}}])
    assert run.status == RunStatus.FAILED and "No active queue nope" in run.error


def test_chat_message_goes_into_the_open_chat_or_a_new_pending_one(oms, mailbox) -> None:
    template = {"en": {"subject": "", "body": "Sorry, {{ contact.first_name }}!"}}
    run, contact = _run_with([{"action": "send_message", "params": {"channel": "chat", "template": template}}])
    message = Message.objects.get(conversation__contact=contact)
    assert message.direction == MessageDirection.OUTBOUND and message.body == "Sorry, Ana!"
    assert message.conversation.status == "pending" and run.status == RunStatus.DONE

    other = unhappy_customer()
    chat = ConversationFactory(contact=other, channel="chat")
    order_delayed(late_order_for(other))
    work()
    assert Message.objects.get(conversation__contact=other).conversation_id == chat.pk


def test_set_conversation_attribute_needs_a_conversation(oms, mailbox) -> None:
    run, _ = _run_with([{"action": "set_conversation_attribute", "params": {"name": "x", "value": 1}}])
    assert run.status == RunStatus.FAILED and "not about a conversation" in run.error


def test_add_to_segment_without_segments_fails_clearly(oms, mailbox) -> None:
    run, _ = _run_with([{"action": "add_to_segment", "params": {"segment": 1}}])
    try:
        import workflows.segments  # noqa: F401
    except ImportError:
        assert run.status == RunStatus.FAILED and "Segments are not available" in run.error
    else:  # segments are there, segment 1 is not
        assert run.status == RunStatus.FAILED and "segment 1" in run.error


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.headers["Idempotency-Key"], json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver():
    _Receiver.received = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", _Receiver.received
    server.shutdown()


def test_post_to_an_outbound_url_carries_the_idempotency_key(oms, mailbox, receiver, settings) -> None:
    settings.WORKFLOWS_OUTBOUND_ALLOW_PRIVATE = True
    url, received = receiver
    run, contact = _run_with([{"action": "post_url", "params": {"url": url}}])
    assert run.status == RunStatus.DONE
    [(key, body)] = received
    assert key == WorkflowRunStep.objects.get(run=run).idempotency_key
    assert body["contact"]["external_id"] == contact.external_id and body["order"]


def test_outbound_urls_are_validated(settings) -> None:
    settings.WORKFLOWS_OUTBOUND_ALLOW_PRIVATE = False
    for url in ("ftp://example.com/x", "not a url", "http://127.0.0.1:8000/x", "http://localhost/x"):
        errors = definition_errors({"trigger": {"type": "event", "kinds": ["order.delayed"]},
                                    "steps": [{"action": "post_url", "params": {"url": url}}]})
        assert errors and "url:" in errors[0], url


def test_a_send_to_a_contact_without_email_fails_and_says_why(oms) -> None:
    from tests.factories import ContactFactory

    template = {"en": {"subject": "Hi", "body": "Hello"}}
    workflow_published(steps=[{"action": "send_message", "params": {"channel": "email", "template": template}}],
                       conditions={}, limit=None)
    contact = ContactFactory(email="")
    order = late_order_for(contact)
    events.order_delayed_event(contact_id=contact.pk, order=order, delay_minutes=5, reason="",
                               occurred_at=timezone.now(), actor="oms")
    [run] = work()
    assert run.status == RunStatus.FAILED and "no email address" in run.error


def test_a_name_that_resolves_to_a_private_address_when_posting_is_refused_before_sending(
        oms, mailbox, receiver, settings, monkeypatch):
    """DNS rebinding: the name was public when checked and is private when connecting."""
    from workflows import actions

    settings.WORKFLOWS_OUTBOUND_ALLOW_PRIVATE = False
    monkeypatch.setattr(actions, "_private_host", lambda host: False)  # the check saw a public address
    url, received = receiver

    run, _contact = _run_with([{"action": "post_url", "params": {"url": url}}])

    assert run.status == RunStatus.FAILED and received == []
    assert "private" in run.error
