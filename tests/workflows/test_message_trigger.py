"""The "message received" trigger: inbound messages reach workflows through the conversations'
outbox stream (not the timeline), written in the message's own statement only while an
enabled workflow listens; replies and notes are never "received"."""

from __future__ import annotations

import asyncio

import pytest

from conversations import services, widget
from conversations.models import MESSAGE_STREAM, Conversation, Message, MessageDirection
from supportdesk.models import OutboxEntry
from tests.conversations.api_clients import client_for, messages_url
from tests.factories import ContactFactory, IntegrationFactory, UserFactory
from tests.workflows.conftest import work, workflow_published
from workflows.definitions import definition_errors, known_kinds
from workflows.models import RunStatus
from workflows.services.triggers import MESSAGES_CONSUMER

ECHO = {"en": {"subject": "We got it", "body": "You wrote: {{ message.excerpt }}"}}


def on_message(key: str = "ack", **changes):
    definition = {"trigger": {"type": "event", "kinds": ["message.received"]},
                  "conditions": {"all": [{"attribute": "contact.language", "op": "eq", "value": "en"}]},
                  "steps": [{"action": "send_message", "params": {"channel": "test_mail", "template": ECHO}}],
                  "run_key": "{workflow}:{message}", "limit": None}
    definition.update(changes)
    return workflow_published(key, **definition)


def message_entries() -> int:
    """The workflows' entries (a reply on email has one of its own, for its transport)."""
    return OutboxEntry.objects.filter(stream=MESSAGE_STREAM, consumer=MESSAGES_CONSUMER).count()


@pytest.fixture(autouse=True)
def _eager(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture
def no_kicks(monkeypatch):
    """The drains a commit asks for, off: the entries wait for the tick (work() here)."""
    from workflows import tasks

    monkeypatch.setattr(tasks, "triggers_kick", lambda: None)


@pytest.mark.django_db(transaction=True)
def test_a_workflow_on_message_received_runs_once_per_inbound_chat_message_on_every_path(
        mailbox, private_channel_layer, no_kicks):
    workflow, _ = on_message()
    contact = ContactFactory(preferred_language="en")
    session = widget.Session(contact_id=contact.pk)

    first = services.visitor_message_send(session=session, body="Hello", client_id="c1")  # opens the chat
    second = services.visitor_message_send(session=session, body="Where is my order?", client_id="c2",
                                           conversation_id=first.conversation_id)  # the sync hot path
    services.visitor_message_send(session=session, body="Where is my order?", client_id="c2",
                                  conversation_id=first.conversation_id)  # resent: stored once

    async def socket() -> Message:
        return await services.visitor_message_send_async(session=session, body="x" * 500, client_id="c3",
                                                         conversation_id=first.conversation_id)

    third = asyncio.run(socket())  # the socket's path, on the event loop
    assert message_entries() == 3
    runs = work()

    assert [run.trigger["message_id"] for run in runs] == [first.pk, second.pk, third.pk]
    assert {run.trigger["event"] for run in runs} == {"message.received"}
    assert {(run.subject_type, run.subject_id) for run in runs} == {("conversation", first.conversation_id)}
    assert all(run.status == RunStatus.DONE for run in runs), [run.status for run in runs]
    bodies = [body for *_, body in mailbox.sends]
    assert bodies == ["You wrote: Hello", "You wrote: Where is my order?", "You wrote: " + "x" * 200]
    assert message_entries() == 0  # drained

    # A contact the conditions exclude: the message is considered, nothing runs.
    other = services.visitor_message_send(session=widget.Session(contact_id=ContactFactory(
        preferred_language="de").pk), body="Hallo", client_id="d1")
    assert work() == runs and other.pk


@pytest.mark.django_db(transaction=True)
def test_the_commit_of_a_received_message_asks_for_the_drain_so_it_runs_without_a_tick(
        mailbox, private_channel_layer):
    from workflows import tasks
    from workflows.models import WorkflowRun

    tasks.get_redis().delete(tasks.triggers_kick_key())
    on_message()
    contact = ContactFactory(preferred_language="en")
    first = services.visitor_message_send(session=widget.Session(contact_id=contact.pk), body="Hello",
                                          client_id="k1")

    async def socket() -> Message:
        return await services.visitor_message_send_async(session=widget.Session(contact_id=contact.pk),
                                                         body="Again", client_id="k2",
                                                         conversation_id=first.conversation_id)

    second = asyncio.run(socket())
    # No tick ran: each commit's kick queued the drain (eager here), which started the runs.
    assert message_entries() == 0
    runs = list(WorkflowRun.objects.order_by("pk"))
    assert [run.trigger["message_id"] for run in runs] == [first.pk, second.pk]
    assert [body for *_, body in mailbox.sends] == ["You wrote: Hello", "You wrote: Again"]


@pytest.mark.django_db
def test_the_apis_inbound_message_triggers_it_and_an_agents_reply_or_note_does_not(mailbox):
    workflow, _ = on_message()
    conversation = Conversation.objects.create(contact=ContactFactory(preferred_language="en"), channel="email")
    agent = UserFactory()

    response = client_for(IntegrationFactory()).post(messages_url(conversation.pk),
                                                     {"direction": "in", "body": "Any news?"}, format="json")
    assert response.status_code == 201
    services.message_create(conversation=conversation, direction=MessageDirection.OUTBOUND, body="Soon",
                            author=agent)
    services.message_create(conversation=conversation, direction=MessageDirection.NOTE, body="VIP",
                            author=agent)
    assert message_entries() == 1  # the reply and the note got no entry

    runs = work()
    assert [run.trigger["message_id"] for run in runs] == [response.json()["id"]]
    assert [body for *_, body in mailbox.sends] == ["You wrote: Any news?"]


@pytest.mark.django_db(transaction=True)
def test_no_outbox_rows_when_no_enabled_workflow_listens_to_messages(mailbox, private_channel_layer):
    workflow_published("recovery")  # listens to order.delayed only
    quiet, _ = on_message("quiet")
    from workflows.services import workflow_disable
    from workflows.services.triggers import listened_kinds_clear

    workflow_disable(workflow_id=quiet.pk)
    listened_kinds_clear()
    session = widget.Session(contact_id=ContactFactory(preferred_language="en").pk)
    first = services.visitor_message_send(session=session, body="Hello", client_id="c1")
    services.visitor_message_send(session=session, body="Again", client_id="c2",
                                  conversation_id=first.conversation_id)
    asyncio.run(services.visitor_message_send_async(session=session, body="And again", client_id="c3",
                                                    conversation_id=first.conversation_id))
    services.message_create(conversation=Conversation.objects.get(pk=first.conversation_id),
                            direction=MessageDirection.INBOUND, body="From an integration")

    assert Message.objects.filter(conversation_id=first.conversation_id).count() == 4
    assert message_entries() == 0
    assert work() == [] and mailbox.sends == []


def test_the_definition_accepts_message_received_with_its_excerpt_and_refuses_it_on_a_timer(mailbox):
    assert "message.received" in known_kinds()
    steps = [{"action": "send_message", "params": {"channel": "test_mail", "template": ECHO}}]
    on_event = {"trigger": {"type": "event", "kinds": ["message.received"]}, "steps": steps,
                "run_key": "{workflow}:{message}"}
    assert definition_errors(on_event, known_kinds=known_kinds()) == []

    on_order = {**on_event, "trigger": {"type": "event", "kinds": ["order.delayed"]}}
    assert any("message.excerpt" in error for error in definition_errors(on_order, known_kinds=known_kinds()))

    timer = {**on_event, "trigger": {"type": "timer", "kinds": ["message.received"], "minutes": 5}}
    assert any("message.received" in error for error in definition_errors(timer, known_kinds=known_kinds()))


@pytest.mark.django_db
def test_the_dry_run_replays_received_messages_once_each_and_writes_nothing(mailbox):
    from workflows.services import dry_run

    contact, excluded = ContactFactory(preferred_language="en"), ContactFactory(preferred_language="de")
    conversation = Conversation.objects.create(contact=contact, channel="chat")
    agent = UserFactory()
    services.message_create(conversation=conversation, direction=MessageDirection.INBOUND, body="Hello")
    services.message_create(conversation=conversation, direction=MessageDirection.OUTBOUND, body="Hi!",
                            author=agent)
    services.message_create(conversation=conversation, direction=MessageDirection.INBOUND, body="Still there?")
    services.message_create(conversation=Conversation.objects.create(contact=excluded, channel="chat"),
                            direction=MessageDirection.INBOUND, body="Hallo")
    assert message_entries() == 0  # nothing listens

    draft = {"trigger": {"type": "event", "kinds": ["message.received"]},
             "conditions": {"all": [{"attribute": "contact.language", "op": "eq", "value": "en"}]},
             "steps": [{"action": "send_message", "params": {"channel": "test_mail", "template": ECHO}}],
             "run_key": "{workflow}:{message}"}
    would = dry_run(draft, days=1)

    assert [(row.contact_id, row.subject_type, row.subject_id, row.trigger) for row in would] == [
        (contact.pk, "conversation", conversation.pk, "message.received")] * 2
    assert Message.objects.count() == 4 and mailbox.sends == []
    # The default run key (workflow and conversation): once for the conversation.
    assert len(dry_run({**draft, "run_key": ""}, days=1)) == 1


@pytest.mark.django_db
def test_a_workflows_own_chat_message_is_not_received_so_it_does_not_trigger_again():
    workflow, _ = on_message(steps=[{"action": "send_message", "params": {"channel": "chat", "template": ECHO}}])
    contact = ContactFactory(preferred_language="en")
    first = services.visitor_message_send(session=widget.Session(contact_id=contact.pk), body="Hello",
                                          client_id="c1")

    runs = work()
    runs_again = work()

    assert [run.status for run in runs] == [RunStatus.DONE] and runs_again == runs
    sent = Message.objects.filter(conversation_id=first.conversation_id).exclude(pk=first.pk)
    assert [(message.direction, message.body) for message in sent] == [("out", "You wrote: Hello")]
    assert message_entries() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("listening", [True, False], ids=["listened", "not-listened"])
def test_the_chats_hot_path_stays_one_statement_with_or_without_the_entries(listening, mailbox):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from workflows.services.triggers import listened_kinds

    if listening:
        on_message()
    session = widget.Session(contact_id=ContactFactory(preferred_language="en").pk)
    first = services.visitor_message_send(session=session, body="Hello", client_id="c1")
    listened_kinds()  # the process's cache is warm, as it is between two messages

    with CaptureQueriesContext(connection) as queries:
        services.visitor_message_send(session=session, body="Again", client_id="c2",
                                      conversation_id=first.conversation_id)

    statements = [query["sql"] for query in queries.captured_queries
                  if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    assert len(statements) == 1, statements
    assert ("supportdesk_outboxentry" in statements[0]) is listening
    assert message_entries() == (2 if listening else 0)
