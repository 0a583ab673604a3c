"""A chat the customer ends: with the widget's "End chat", or by going away.

Ended before any agent answered, the chat was **abandoned**, as a call the caller hung up
while waiting (services.calls): its work item is cancelled at the moment the customer left
(state `cancelled`, `answered_at` empty, `completed_at` then, "abandoned" in its history: the
reports' abandonment and its wait) and the conversation closed, both on the contact's
timeline (`conversation.status_changed`, and `conversation.abandoned` with the wait).

Ended after an answer, nothing is cut short for the desk: the conversation stays with its
agent, who still resolves it with a contact reason (and the contact then gets the survey as
usual). It is marked (`contact_ended_at`), the agent reads "The customer ended the chat" as a
system note in the thread, live, the timeline records `conversation.contact_ended`, and the
customer's next message opens a new chat.

**Going away.** A widget's socket that follows a chat no agent answered yet keeps the chat's
`ChatVisitor` row fresh (`VisitorWatch`: when it starts following it, every
CHAT_VISITOR_SEEN_SECONDS while it stays, and at its disconnect, so `seen_at` is the moment it
left). The beat's sweep abandons the chats whose row is older than CHAT_ABANDON_AFTER_SECONDS,
ended at `seen_at`: the wait counts to the disconnect, not to the sweep. A web process killed
mid-chat runs no disconnect: its sockets' rows just stop being refreshed (ended at the last
refresh). Nothing of it lives in Redis, so a Redis restart changes nothing, and an open socket
keeps refreshing, so a connected visitor is never abandoned; a visitor who reconnects in time
refreshes the row and keeps their place.

**Exactly once.** The work item and then the conversation are locked (the order accepting an
offer takes them) and a chat already ended or closed is left alone: the button pressed twice,
or pressed as the sweep runs, ends the chat once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone, translation
from django.utils.translation import gettext

from conversations import widget
from conversations.access import access_visitor_chat
from conversations.models import Channel, ChatVisitor, Conversation, ConversationStatus, MessageDirection
from conversations.selectors import visitor_contact
from conversations.services.common import ABANDONED
from conversations.services.conversations import conversation_status_set
from conversations.services.messages import message_create
from conversations.services.visitors import chat_current
from routing import services as routing
from routing.models import OPEN_STATES, WorkItem
from supportdesk.db import loop_connection
from supportdesk.errors import DomainError, NotFound
from timeline import events
from timeline.models import Contact

log = logging.getLogger(__name__)

ENDED = "ended"  # how: the widget's "End chat"
LEFT = "left"  # how: no visitor socket for CHAT_ABANDON_AFTER_SECONDS
GOING = (ConversationStatus.OPEN, ConversationStatus.PENDING)


@dataclass(frozen=True)
class ChatEnd:
    conversation_id: int
    abandoned: bool  # ended before any agent answered (closed), else left to its agent
    ended_now: bool  # False: it had ended (or was closed) before; nothing changed
    language: str  # the chat's, for what the widget says


def chat_ended_text(language: str) -> str:
    """What the widget says to a visitor who ended their chat, in the chat's language."""
    with translation.override(language or None):
        return gettext("You ended the chat. Write again whenever you need us.")


def visitor_chat_end(*, session: widget.Session, conversation_id: int | None) -> ChatEnd:
    """The visitor pressed "End chat": their chat `conversation_id` (the one the widget shows),
    or, without one, the chat they have going."""
    if conversation_id is None:
        contact = visitor_contact(session)
        current = chat_current(contact_id=contact.pk) if contact is not None else None
        if current is None:
            raise DomainError(gettext("There is no chat to end."), code="no_conversation")
        conversation_id = current.pk
    else:
        access_visitor_chat(session=session, conversation_id=conversation_id)
    return chat_end(conversation_id=conversation_id, how=ENDED)


def chat_end(*, conversation_id: int, how: str = ENDED, at: datetime | None = None) -> ChatEnd:
    """The chat's customer ended it at `at` (now by default): abandoned if no agent ever
    answered it, else marked for its agent (see the module). Idempotent."""
    with transaction.atomic():
        conversation, item = _locked(conversation_id)
        return _end(conversation, item, how=how, at=at or timezone.now())


def _locked(conversation_id: int) -> tuple[Conversation, WorkItem | None]:
    """The chat and its open work item, locked: the item first, as routing and accepting an
    offer lock them (the reverse order could deadlock with an agent accepting it)."""
    items = WorkItem.objects.select_for_update(of=("self",)).filter(conversation_id=conversation_id,
                                                                      state__in=OPEN_STATES)
    item = items.first()
    conversation = (Conversation.objects.select_for_update()
                    .filter(pk=conversation_id, channel=Channel.CHAT).first())
    if conversation is None:
        raise NotFound(gettext("Conversation %(id)s does not exist.") % {"id": conversation_id})
    if item is None and conversation.routed_at is not None:
        item = items.first()  # routed while this waited for the chat's lock
    return conversation, item


def _going(conversation: Conversation) -> bool:
    return conversation.status in GOING and conversation.contact_ended_at is None


def _answered(conversation_id: int) -> bool:
    """Whether an agent ever took the chat (accepted it or was assigned it)."""
    return WorkItem.objects.filter(conversation_id=conversation_id, answered_at__isnull=False).exists()


def _end(conversation: Conversation, item: WorkItem | None, *, how: str, at: datetime) -> ChatEnd:
    # A chat ended before it was routed has no language yet: its contact's.
    language = conversation.language or Contact.objects.filter(pk=conversation.contact_id).values_list(
        "preferred_language", flat=True).first() or ""
    if not _going(conversation):
        abandoned = conversation.status == ConversationStatus.CLOSED and conversation.contact_ended_at is not None
        return ChatEnd(conversation.pk, abandoned=abandoned, ended_now=False, language=language)
    at = min(at, timezone.now())
    if _answered(conversation.pk):
        _ended_after_answer(conversation, how=how, at=at)
        return ChatEnd(conversation.pk, abandoned=False, ended_now=True, language=language)
    _abandon(conversation, item, how=how, at=at)
    return ChatEnd(conversation.pk, abandoned=True, ended_now=True, language=language)


def _ended_after_answer(conversation: Conversation, *, how: str, at: datetime) -> None:
    """Left to its agent: marked, a note in the thread they see live, and the timeline told."""
    Conversation.objects.filter(pk=conversation.pk).update(contact_ended_at=at)
    message_create(conversation=conversation, direction=MessageDirection.NOTE, system_note=True,
                   body=gettext("The customer ended the chat. Resolve it with a contact reason when "
                                "you are done."))
    events.conversation_contact_ended_event(
        contact_id=conversation.contact_id, conversation_id=conversation.pk, abandoned=False, how=how,
        wait_seconds=None, occurred_at=at, actor="contact")


def _abandon(conversation: Conversation, item: WorkItem | None, *, how: str, at: datetime) -> None:
    """The work item cancelled as of `at` (never answered), the conversation closed, the wait recorded."""
    waited_from = conversation.created_at  # not routed yet: no item
    if item is not None:
        item = routing.work_item_cancel(item_id=item.pk, at=at, reason=ABANDONED)
        waited_from, at = item.enqueued_at, item.completed_at  # routing keeps it within the item's life
    at = max(at, waited_from)
    Conversation.objects.filter(pk=conversation.pk).update(contact_ended_at=at)
    conversation.contact_ended_at = at
    conversation_status_set(conversation=conversation, status=ConversationStatus.CLOSED)
    events.conversation_contact_ended_event(
        contact_id=conversation.contact_id, conversation_id=conversation.pk, abandoned=True, how=how,
        wait_seconds=int((at - waited_from).total_seconds()), occurred_at=at, actor="contact")


# --- visitors who go away ------------------------------------------------------------------------


def _seen_statement(*, conversation_id: int, at: datetime) -> tuple[str, list[object]]:
    """One statement: the chat's visitor is there at `at`, if it is a chat going that no agent
    answered yet (else nothing is written: no row, and the socket stops refreshing it)."""
    quote = connection.ops.quote_name
    visitors, conversations = quote(ChatVisitor._meta.db_table), quote(Conversation._meta.db_table)
    items = quote(WorkItem._meta.db_table)
    return (
        f"INSERT INTO {visitors} (conversation_id, seen_at) "
        f"SELECT c.id, %s FROM {conversations} c "
        "WHERE c.id = %s AND c.channel = %s AND c.status IN (%s, %s) AND c.contact_ended_at IS NULL "
        f"AND NOT EXISTS (SELECT 1 FROM {items} i WHERE i.conversation_id = c.id AND i.answered_at IS NOT NULL) "
        f"ON CONFLICT (conversation_id) DO UPDATE SET seen_at = GREATEST({visitors}.seen_at, EXCLUDED.seen_at)",
        [at, conversation_id, Channel.CHAT, *GOING],
    )


def visitor_seen(*, conversation_id: int, at: datetime | None = None) -> bool:
    """The chat's visitor is there (now, or at `at`); whether the chat is one watched for
    abandonment (going, never answered)."""
    sql, params = _seen_statement(conversation_id=conversation_id, at=at or timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount > 0


async def visitor_seen_async(*, conversation_id: int) -> bool:
    """`visitor_seen` from the socket's event loop, on the loop's own connection (no thread hop)."""
    sql, params = _seen_statement(conversation_id=conversation_id, at=timezone.now())
    async with loop_connection() as db:
        cursor = await db.execute(sql, params)
        return cursor.rowcount > 0


class VisitorWatch:
    """A visitor's socket's sightings of the chat it follows (the consumer calls `follow` as
    the chat it follows changes, None at its disconnect). While the chat is watched, a
    task refreshes it every CHAT_VISITOR_SEEN_SECONDS; leaving it writes the last sighting."""

    def __init__(self) -> None:
        self.conversation_id: int | None = None
        self.watched = False  # the last sighting was written: the chat waits for an agent
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def follow(self, conversation_id: int | None) -> None:
        if conversation_id == self.conversation_id:
            return
        await self._leave()
        self.conversation_id = conversation_id
        if conversation_id is not None:
            self._stop = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(
                self._refresh(conversation_id, self._stop), name=f"chat-visitor-{conversation_id}")

    async def _leave(self) -> None:
        task, conversation_id = self._task, self.conversation_id
        self._task = self.conversation_id = None
        if task is None or conversation_id is None:
            return
        self._stop.set()
        await task  # at most the statement it is running (never cancelled mid-statement)
        if self.watched:
            await self._seen(conversation_id)  # the moment the visitor left
        self.watched = False

    async def _refresh(self, conversation_id: int, stop: asyncio.Event) -> None:
        every = settings.CHAT_VISITOR_SEEN_SECONDS
        while not stop.is_set():
            watched = await self._seen(conversation_id)
            if watched is False:
                return  # answered or ended: nothing to watch
            with contextlib.suppress(TimeoutError):
                # Sooner again after a failure, so an outage does not age the sighting much.
                await asyncio.wait_for(stop.wait(), every if watched else min(every, 5.0))

    async def _seen(self, conversation_id: int) -> bool | None:
        """True/False as `visitor_seen`; None when the database did not answer (logged)."""
        try:
            watched = await visitor_seen_async(conversation_id=conversation_id)
        except Exception:
            log.warning("Could not record the visitor of chat %s as seen", conversation_id, exc_info=True)
            return None
        self.watched = watched
        return watched


def chats_abandoned_sweep(*, limit: int = 200) -> int:
    """Abandon the chats whose visitor has been gone CHAT_ABANDON_AFTER_SECONDS (ended when
    they left), after forgetting those answered or ended meanwhile; how many it abandoned."""
    _visitors_forget()
    cutoff = timezone.now() - timedelta(seconds=settings.CHAT_ABANDON_AFTER_SECONDS)
    ids = list(ChatVisitor.objects.filter(seen_at__lt=cutoff).order_by("seen_at")
               .values_list("conversation_id", flat=True)[:limit])
    abandoned = 0
    for conversation_id in ids:
        try:
            abandoned += chat_abandon_if_gone(conversation_id=conversation_id, cutoff=cutoff) is not None
        except Exception:  # one chat that fails must not hold up the others (it is tried again)
            log.exception("Could not abandon chat %s", conversation_id)
    return abandoned


def chat_abandon_if_gone(*, conversation_id: int, cutoff: datetime) -> ChatEnd | None:
    """Abandon the chat if its visitor was last seen before `cutoff` and no agent answered it,
    ended when they were last seen; None when they came back, or it was answered or ended."""
    with transaction.atomic():
        conversation, item = _locked(conversation_id)
        # Locked after the chat: a socket refreshing it now waits, then finds it ended.
        visitor = ChatVisitor.objects.select_for_update().filter(conversation_id=conversation_id).first()
        if visitor is None or visitor.seen_at >= cutoff:
            return None  # back in time
        visitor.delete()
        if not _going(conversation) or _answered(conversation_id):
            return None
        return _end(conversation, item, how=LEFT, at=visitor.seen_at)


def _visitors_forget() -> int:
    """Drop the rows of chats no longer waiting for an agent (answered, ended, closed)."""
    answered = WorkItem.objects.filter(conversation_id=OuterRef("conversation_id"), answered_at__isnull=False)
    gone = (ChatVisitor.objects.filter(~Q(conversation__status__in=GOING)
                                       | Q(conversation__contact_ended_at__isnull=False) | Exists(answered)))
    return gone.delete()[0]
