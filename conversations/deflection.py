"""Self-service deflection, one session at a time: what a widget visitor got answered without
an agent, and whether a conversation followed within 24 hours.

Anyone who answers a visitor without an agent calls `deflection_answered` (the help center when
an article is read in the widget or marked "this answered my question"; the orders' self-service
when it answers about an order). Answers close together (`SESSION_IDLE` apart at most) make one
session. `deflection_follow` runs in the same transaction as every conversation
`conversation_open` creates: the contact's sessions answered within the last 24 hours and not
yet followed are followed by it (so the agent sees what was read: `answers_before`).

Settled at read time, not by a task: a session is *followed* when `followed_at` is set, else
*deflected* once 24 hours have passed since its last answer, else still *open*. The clock alone
turns an open session into a deflected one, so there is no task to miss or run twice, and a
conversation opened late (after the 24 hours) cannot touch a session that already counted as
deflected (the follow looks back 24 hours only). `deflection_outcome` is that rule over plain
values; the reports' query (reports.selectors) is its SQL twin, and a test holds them equal.

Idempotent on retries: an answer is recorded once per session, kind and reference (a unique
constraint), and a session is followed once (only while `followed_at` is empty).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from conversations import widget
from conversations.models import (
    Channel,
    Conversation,
    ConversationStatus,
    SelfServiceAnswer,
    SelfServiceSession,
)
from conversations.selectors import visitor_contact
from supportdesk import advisory_locks
from timeline.models import Contact, ContactKind

WINDOW = timedelta(hours=24)  # a conversation within this of the last answer: not deflected
SESSION_IDLE = timedelta(minutes=30)  # answers further apart than this are two sessions

# The help center's kinds (any app may add its own: the kind is plain text).
ARTICLE_READ = "article_read"
ARTICLE_ANSWERED = "article_answered"
ARTICLE_KINDS = (ARTICLE_READ, ARTICLE_ANSWERED)

FOLLOWED, DEFLECTED, OPEN = "followed", "deflected", "open"
_KIND_MAX, _REF_MAX = 32, 64


def deflection_outcome(*, answered_at: datetime, followed_at: datetime | None, now: datetime) -> str:
    """A session's state at `now`: followed by a conversation, deflected, or still open."""
    if followed_at is not None:
        return FOLLOWED
    return DEFLECTED if now >= answered_at + WINDOW else OPEN


def _visitor_filter(*, contact: Contact | None, session: widget.Session) -> Q:
    """The sessions of this visitor: by their contact, and by their widget id while anonymous."""
    mine = Q(contact_id=contact.pk) if contact is not None else Q(pk__in=[])
    if not session.contact_id:
        mine |= Q(visitor=session.visitor)
    return mine


def _in_a_chat(contact: Contact | None) -> bool:
    """Answers while a chat is going are not self-service: an agent is there."""
    return contact is not None and Conversation.objects.filter(
        contact=contact, channel=Channel.CHAT, status__in=(ConversationStatus.OPEN, ConversationStatus.PENDING),
        contact_ended_at__isnull=True).exists()


def _lock_visitor(*, contact: Contact | None, session: widget.Session) -> None:
    """One answer at a time per visitor, so two at once join one session, not two."""
    key = contact.pk if contact is not None else int(session.visitor[:15] or "0", 16)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                       [advisory_locks.SELF_SERVICE_PER_VISITOR, advisory_locks.pair_id(key)])


def deflection_answered(session: widget.Session, kind: str, ref: str, *, title: str = "", url: str = "",
                        language: str = "", query: str = "",
                        at: datetime | None = None) -> SelfServiceSession | None:
    """Record that the widget's visitor got an answer without an agent. `kind` and `ref` say
    what answered (the caller's terms: `article_read` and a version's id); `title`, `url` and
    `language` what the agent will read about it, written by the caller from its own records
    (never from what the visitor sent); `query` what the visitor had typed. The same answer
    again in a session records nothing more. None when nothing was recorded (a chat is going)."""
    if not kind or len(kind) > _KIND_MAX or not ref or len(str(ref)) > _REF_MAX:
        # The caller's own terms, never the visitor's input: a bug in the caller, not a refusal.
        raise ValueError(f"An answer needs a kind (1-{_KIND_MAX} characters) and a reference "
                         f"(1-{_REF_MAX} characters).")
    at = at or timezone.now()
    with transaction.atomic():
        contact = visitor_contact(session)
        if session.contact_id and contact is None:
            raise widget.TokenInvalid(gettext("The chat session's contact no longer exists; start again."))
        if _in_a_chat(contact):
            return None
        _lock_visitor(contact=contact, session=session)
        current = (SelfServiceSession.objects.filter(_visitor_filter(contact=contact, session=session),
                                                     followed_at__isnull=True, answered_at__gte=at - SESSION_IDLE)
                   .order_by("-answered_at").first())
        if current is None:
            current = SelfServiceSession.objects.create(
                contact=contact, visitor="" if session.contact_id else session.visitor, language=language[:16],
                contact_kind=contact.kind if contact is not None else ContactKind.CUSTOMER,
                started_at=at, answered_at=at)
        elif current.answers.filter(kind=kind, ref=str(ref)).exists():
            return current  # a retry: already recorded
        SelfServiceAnswer.objects.create(session=current, kind=kind, ref=str(ref), title=title[:200],
                                         url=url[:300], language=language[:16], query=query[:200], at=at)
        if at > current.answered_at:
            current.answered_at = at
            SelfServiceSession.objects.filter(pk=current.pk).update(answered_at=at)
    return current


def deflection_follow(*, conversation: Conversation) -> int:
    """The contact's sessions answered within 24 hours before `conversation` was opened are
    followed by it (not deflected); their answers become what the agent sees was read before.
    Called inside the transaction that opens the conversation. How many were followed."""
    contact = conversation.contact
    mine = Q(contact_id=contact.pk)
    if contact.kind == ContactKind.CUSTOMER and contact.external_id.startswith("visitor-"):
        mine |= Q(visitor=contact.external_id.removeprefix("visitor-"))  # read while anonymous
    opened_at = conversation.created_at
    return SelfServiceSession.objects.filter(
        mine, followed_at__isnull=True, answered_at__gte=opened_at - WINDOW, started_at__lte=opened_at,
    ).update(followed_at=opened_at, conversation=conversation, contact=contact)


def answers_before(*, conversation_id: int) -> QuerySet[SelfServiceAnswer]:
    """What the contact got from self-service before asking, oldest first (the workspace shows it)."""
    return SelfServiceAnswer.objects.filter(session__conversation_id=conversation_id).order_by("at", "pk")
