"""Chats the customer ended: with the widget's "End chat" before an agent answered (abandoned:
the work item cancelled when they left, the conversation closed, the timeline told), after an
answer (left to the agent, who still resolves it), and by going away (the sweep abandons a chat
whose visitor was last seen too long ago, ended when they left), each exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from conversations import services, tasks, widget
from conversations.models import (
    ChatVisitor,
    ContactReason,
    Conversation,
    ConversationStatus,
    Message,
    MessageDirection,
)
from routing.models import ItemState, Queue, WorkItem
from supportdesk.errors import DomainError, NotFound
from tests.factories import ContactFactory
from tests.scenarios import conversation_assigned, conversation_offered, online_agent
from tests.workflows.csat_helpers import drain, settings_for
from timeline.models import TimelineEvent
from workflows.surveys.models import Survey

pytestmark = pytest.mark.django_db


def waiting_chat(minutes_ago: float = 0) -> tuple[Conversation, WorkItem, widget.Session]:
    """A chat in the queue with no agent online, routed `minutes_ago`, and its visitor's session."""
    Queue.objects.get_or_create(key="general", defaults={"name": "General"})
    contact = ContactFactory(preferred_language="es")
    conversation = services.conversation_open(contact=contact, channel="chat", language="es")
    item = WorkItem.objects.get(conversation_id=conversation.pk)
    assert item.state == ItemState.WAITING
    if minutes_ago:
        WorkItem.objects.filter(pk=item.pk).update(enqueued_at=timezone.now() - timedelta(minutes=minutes_ago))
        item.refresh_from_db()
    return conversation, item, widget.Session(contact_id=contact.pk)


def timeline(conversation: Conversation, kind: str) -> list[TimelineEvent]:
    return list(TimelineEvent.objects.filter(subject_type="conversation", subject_id=conversation.pk, kind=kind))


def visitor_gone_since(conversation: Conversation, left) -> None:
    assert services.visitor_seen(conversation_id=conversation.pk, at=left)


# --- the widget's "End chat" ---------------------------------------------------------------------


def test_ending_a_waiting_chat_abandons_it():
    # given a chat waiting in the queue for four minutes
    conversation, item, session = waiting_chat(minutes_ago=4)

    # when its visitor ends it
    ended = services.visitor_chat_end(session=session, conversation_id=conversation.pk)

    # then its work item is cancelled now, never answered, and the conversation closed
    assert (ended.abandoned, ended.ended_now) == (True, True)
    item.refresh_from_db()
    conversation.refresh_from_db()
    assert (item.state, item.answered_at) == (ItemState.CANCELLED, None)
    assert timezone.now() - item.completed_at < timedelta(seconds=5)
    assert item.events.get(kind="cancelled").detail["reason"] == "abandoned"
    assert (conversation.status, conversation.contact_ended_at) == (ConversationStatus.CLOSED, item.completed_at)
    # on the timeline like the other status changes, with the wait
    [closed] = timeline(conversation, "conversation.status_changed")
    assert (closed.payload, closed.actor) == ({"status": "closed"}, "contact")
    [abandoned] = timeline(conversation, "conversation.abandoned")
    assert abandoned.payload == {"how": "ended", "wait_seconds": 240}
    assert abandoned.occurred_at == item.completed_at
    # and the visitor's next message opens a new chat
    assert services.chat_current(contact_id=conversation.contact_id) is None


def test_the_visitor_is_told_in_the_chats_language():
    assert services.chat_ended_text("es") == "Has terminado el chat. Escríbenos de nuevo cuando nos necesites."
    assert services.chat_ended_text("") == "You ended the chat. Write again whenever you need us."


def test_ending_an_offered_chat_withdraws_the_offer():
    profile = online_agent()
    conversation, item = conversation_offered(profile)

    ended = services.chat_end(conversation_id=conversation.pk)

    item.refresh_from_db()
    assert ended.abandoned and (item.state, item.answered_at) == (ItemState.CANCELLED, None)
    assert not WorkItem.objects.filter(agent=profile, state__in=(ItemState.OFFERED, ItemState.ASSIGNED)).exists()


def test_ending_after_an_agent_answered_leaves_it_to_the_agent_who_still_resolves_it():
    # given a chat an agent accepted
    profile = online_agent()
    conversation = conversation_assigned(profile)
    session = widget.Session(contact_id=conversation.contact_id)

    # when the customer ends it
    ended = services.visitor_chat_end(session=session, conversation_id=None)

    # then it is not abandoned: it stays with the agent, marked, with a note they see
    assert (ended.conversation_id, ended.abandoned, ended.ended_now) == (conversation.pk, False, True)
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.OPEN and conversation.contact_ended_at is not None
    assert WorkItem.objects.get(conversation_id=conversation.pk).state == ItemState.ASSIGNED
    note = Message.objects.get(conversation=conversation, direction=MessageDirection.NOTE)
    assert note.author_user is None and "The customer ended the chat" in note.body
    assert [event.payload for event in timeline(conversation, "conversation.contact_ended")] == [{"how": "ended"}]
    assert not timeline(conversation, "conversation.abandoned")
    assert not timeline(conversation, "conversation.status_changed")
    # the customer's next message opens a new chat
    assert services.chat_current(contact_id=conversation.contact_id) is None
    # and the agent resolves it with a contact reason, as ever; the customer is asked to rate it
    settings_for("chat")
    ContactReason.objects.create(key="late_order", label="Late order")
    resolved = services.conversation_resolve(conversation_id=conversation.pk, user=profile.user,
                                             contact_reason="late_order")
    assert resolved.status == ConversationStatus.RESOLVED
    assert WorkItem.objects.get(conversation_id=conversation.pk).state == ItemState.COMPLETED
    drain()
    assert Survey.objects.filter(conversation=conversation).exists()


def test_ending_twice_or_as_the_sweep_runs_ends_it_once(settings):
    conversation, item, session = waiting_chat(minutes_ago=10)
    visitor_gone_since(conversation, timezone.now() - timedelta(minutes=5))

    first = services.chats_abandoned_sweep()
    again = services.visitor_chat_end(session=session, conversation_id=conversation.pk)
    once_more = services.chat_end(conversation_id=conversation.pk)

    assert first == 1
    assert (again.ended_now, once_more.ended_now) == (False, False) and again.abandoned
    assert len(timeline(conversation, "conversation.abandoned")) == 1
    assert len(timeline(conversation, "conversation.status_changed")) == 1
    assert item.events.filter(kind="cancelled").count() == 1
    assert services.chats_abandoned_sweep() == 0


def test_a_visitor_ends_only_their_own_chat():
    conversation, item, _ = waiting_chat()
    stranger = widget.Session(visitor="someone-else")

    with pytest.raises(NotFound):
        services.visitor_chat_end(session=stranger, conversation_id=conversation.pk)
    with pytest.raises(DomainError) as nothing:
        services.visitor_chat_end(session=stranger, conversation_id=None)

    assert nothing.value.code == "no_conversation"
    item.refresh_from_db()
    assert item.state == ItemState.WAITING


# --- visitors who go away ---------------------------------------------------------------------------


def test_a_visitor_gone_past_the_threshold_abandons_the_chat_when_they_left(settings):
    # given a chat queued ten minutes ago whose visitor's socket went away three minutes ago
    settings.CHAT_ABANDON_AFTER_SECONDS = 120
    conversation, item, _ = waiting_chat(minutes_ago=10)
    left = timezone.now() - timedelta(minutes=3)
    visitor_gone_since(conversation, left)

    # when beat's sweep runs
    beat = settings.CELERY_BEAT_SCHEDULE["conversations-chats-abandoned"]
    assert beat["task"] == tasks.chats_abandoned_sweep.name
    abandoned = tasks.chats_abandoned_sweep()

    # then it was abandoned at the disconnect: the wait is queued -> left, not -> the sweep
    assert abandoned == 1
    item.refresh_from_db()
    conversation.refresh_from_db()
    assert (item.state, item.answered_at, item.completed_at) == (ItemState.CANCELLED, None, left)
    assert (conversation.status, conversation.contact_ended_at) == (ConversationStatus.CLOSED, left)
    [event] = timeline(conversation, "conversation.abandoned")
    assert event.payload == {"how": "left", "wait_seconds": 420} and event.occurred_at == left
    assert not ChatVisitor.objects.exists()


def test_a_visitor_back_in_time_or_gone_briefly_keeps_their_place(settings):
    settings.CHAT_ABANDON_AFTER_SECONDS = 120
    back, back_item, _ = waiting_chat(minutes_ago=10)
    brief, brief_item, _ = waiting_chat(minutes_ago=10)
    # one went away three minutes ago and reconnected; the other left a minute ago
    visitor_gone_since(back, timezone.now() - timedelta(minutes=3))
    assert services.visitor_seen(conversation_id=back.pk)
    visitor_gone_since(brief, timezone.now() - timedelta(minutes=1))

    assert services.chats_abandoned_sweep() == 0

    for conversation, item in ((back, back_item), (brief, brief_item)):
        item.refresh_from_db()
        conversation.refresh_from_db()
        assert (item.state, conversation.status) == (ItemState.WAITING, ConversationStatus.OPEN)
    # a late sighting (a disconnect written after a reconnect's) never moves it back
    assert services.visitor_seen(conversation_id=back.pk, at=timezone.now() - timedelta(hours=1)) is True
    assert ChatVisitor.objects.get(pk=back.pk).seen_at > timezone.now() - timedelta(seconds=30)


def test_an_answered_chat_is_never_abandoned_nor_watched(settings):
    settings.CHAT_ABANDON_AFTER_SECONDS = 120
    conversation, item, _ = waiting_chat(minutes_ago=10)
    visitor_gone_since(conversation, timezone.now() - timedelta(minutes=3))
    # an agent answered it since (and the visitor has gone)
    profile = online_agent()
    item.refresh_from_db()
    assert item.agent_id == profile.pk
    services.offer_accept(item_id=item.pk, user=profile.user)

    assert services.chats_abandoned_sweep() == 0

    assert WorkItem.objects.get(pk=item.pk).state == ItemState.ASSIGNED
    assert Conversation.objects.get(pk=conversation.pk).status == ConversationStatus.OPEN
    assert not ChatVisitor.objects.exists()  # forgotten
    assert services.visitor_seen(conversation_id=conversation.pk) is False  # and not watched again


def test_only_chats_going_are_watched():
    closed, _, session = waiting_chat()
    services.visitor_chat_end(session=session, conversation_id=closed.pk)
    email = services.conversation_open(contact=ContactFactory(), channel="email")

    assert services.visitor_seen(conversation_id=closed.pk) is False
    assert services.visitor_seen(conversation_id=email.pk) is False
    assert not ChatVisitor.objects.exists()
