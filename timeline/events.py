"""One small writer per timeline event kind, so every producer records history the same way.

The timeline is append-only: nothing here updates or deletes. Producers in higher layers
(conversations, workflows, integrations) call these writers with plain ids, so this layer
never needs to know their models.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from decimal import Decimal
from typing import Any

from supportdesk import outbox
from timeline.models import TIMELINE_STREAM, Contact, Order, TimelineEvent


class EventKind:
    CONTACT_CREATED = "contact.created"
    CONTACT_UPDATED = "contact.updated"
    CONTACT_MERGED = "contact.merged"
    ORDER_CREATED = "order.created"
    ORDER_UPDATED = "order.updated"
    ORDER_STATUS_CHANGED = "order.status_changed"
    ORDER_DELAYED = "order.delayed"
    ORDER_DELIVERED = "order.delivered"
    ORDER_CANCELLED = "order.cancelled"
    ORDER_COURIER_ASSIGNED = "order.courier_assigned"
    CONVERSATION_OPENED = "conversation.opened"
    CONVERSATION_STATUS_CHANGED = "conversation.status_changed"
    # Written by their owners' writers (workflows, surveys, segments, outreach).
    RATING_GIVEN = "rating.given"
    SURVEY_SENT = "survey.sent"
    WORKFLOW_RUN = "workflow.run"
    SEGMENT_ENTERED = "segment.entered"
    SEGMENT_LEFT = "segment.left"
    OUTREACH_SENT = "outreach.sent"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Contact | Order):
        return value.external_id
    return value


def _record(
    *,
    contact_id: int,
    kind: str,
    occurred_at: datetime,
    actor: str,
    payload: dict[str, Any],
    subject_type: str = "",
    subject_id: int | None = None,
) -> TimelineEvent:
    event = TimelineEvent(
        contact_id=contact_id,
        kind=kind,
        occurred_at=occurred_at,
        actor=actor,
        payload={key: _jsonable(value) for key, value in payload.items()},
        subject_type=subject_type,
        subject_id=subject_id,
    )
    pending = _buffer.get()
    if pending is not None:
        pending.append(event)
    else:
        _insert([event])
    return event


def _insert(pending: list[TimelineEvent]) -> None:
    """Insert events with the outbox entries of the consumers of TIMELINE_STREAM (workflows,
    segments) in the same statement; with no consumer, a plain insert as before."""
    if not outbox.consumers_of(TIMELINE_STREAM):
        if len(pending) == 1:
            pending[0].save(force_insert=True)
        else:
            TimelineEvent.objects.bulk_create(pending, batch_size=1000)
        return
    outbox.outbox_bulk_create(pending, stream=TIMELINE_STREAM)


_buffer: ContextVar[list[TimelineEvent] | None] = ContextVar("timeline_buffer", default=None)


@contextmanager
def buffered() -> Iterator[list[TimelineEvent]]:
    """Collect the events the writers record inside the block and insert them in one go at
    its end (for batch producers). Events recorded in the block have no id until then."""
    if _buffer.get() is not None:
        raise RuntimeError("Timeline events are already being buffered.")
    pending: list[TimelineEvent] = []
    token = _buffer.set(pending)
    try:
        yield pending
    finally:
        _buffer.reset(token)
    if pending:
        _insert(pending)


def contact_created_event(*, contact: Contact, occurred_at: datetime, actor: str) -> TimelineEvent:
    return _record(
        contact_id=contact.pk, kind=EventKind.CONTACT_CREATED, occurred_at=occurred_at,
        actor=actor, payload={"kind": contact.kind, "external_id": contact.external_id},
        subject_type="contact", subject_id=contact.pk,
    )


def contact_updated_event(
    *, contact: Contact, changes: dict[str, Any], occurred_at: datetime, actor: str
) -> TimelineEvent:
    return _record(
        contact_id=contact.pk, kind=EventKind.CONTACT_UPDATED, occurred_at=occurred_at,
        actor=actor, payload={"changes": {k: _jsonable(v) for k, v in changes.items()}},
        subject_type="contact", subject_id=contact.pk,
    )


def contact_merged_event(
    *, contact: Contact, source: Contact, moved: dict[str, int], filled: list[str],
    occurred_at: datetime, actor: str,
) -> TimelineEvent:
    """On the contact kept: which contact was merged into it, what moved over (rows per
    relation, e.g. "timeline.order.customer") and which of its empty fields were filled."""
    return _record(
        contact_id=contact.pk, kind=EventKind.CONTACT_MERGED, occurred_at=occurred_at,
        actor=actor,
        payload={"source_id": source.pk, "source_external_id": source.external_id,
                 "moved": moved, "filled": filled},
        subject_type="contact", subject_id=source.pk,
    )


def _order_payload(order: Order, **extra: Any) -> dict[str, Any]:
    return {"order": order.external_id, "status": order.status, **extra}


def order_created_event(
    *, contact_id: int, order: Order, occurred_at: datetime, actor: str
) -> TimelineEvent:
    return _record(
        contact_id=contact_id, kind=EventKind.ORDER_CREATED, occurred_at=occurred_at, actor=actor,
        payload=_order_payload(order, total=order.total, currency=order.currency),
        subject_type="order", subject_id=order.pk,
    )


def order_updated_event(
    *, contact_id: int, order: Order, changes: dict[str, Any], occurred_at: datetime, actor: str
) -> TimelineEvent:
    return _record(
        contact_id=contact_id, kind=EventKind.ORDER_UPDATED, occurred_at=occurred_at, actor=actor,
        payload=_order_payload(order, changes={k: _jsonable(v) for k, v in changes.items()}),
        subject_type="order", subject_id=order.pk,
    )


_STATUS_KINDS = {
    "delivered": EventKind.ORDER_DELIVERED,
    "cancelled": EventKind.ORDER_CANCELLED,
}


def order_status_changed_event(
    *, contact_id: int, order: Order, status: str, occurred_at: datetime, actor: str
) -> TimelineEvent:
    return _record(
        contact_id=contact_id, kind=_STATUS_KINDS.get(status, EventKind.ORDER_STATUS_CHANGED),
        occurred_at=occurred_at, actor=actor, payload={"order": order.external_id, "status": status},
        subject_type="order", subject_id=order.pk,
    )


def order_delayed_event(
    *, contact_id: int, order: Order, delay_minutes: int, reason: str, occurred_at: datetime,
    actor: str,
) -> TimelineEvent:
    return _record(
        contact_id=contact_id, kind=EventKind.ORDER_DELAYED, occurred_at=occurred_at, actor=actor,
        payload=_order_payload(
            order, delay_minutes=delay_minutes, reason=reason, promised_at=order.promised_at
        ),
        subject_type="order", subject_id=order.pk,
    )


def order_courier_assigned_event(
    *, courier_id: int, order: Order, occurred_at: datetime, actor: str
) -> TimelineEvent:
    return _record(
        contact_id=courier_id, kind=EventKind.ORDER_COURIER_ASSIGNED, occurred_at=occurred_at,
        actor=actor, payload=_order_payload(order), subject_type="order", subject_id=order.pk,
    )


def conversation_opened_event(
    *, contact_id: int, conversation_id: int, channel: str, subject: str,
    occurred_at: datetime, actor: str,
) -> TimelineEvent:
    return _record(
        contact_id=contact_id, kind=EventKind.CONVERSATION_OPENED, occurred_at=occurred_at,
        actor=actor, payload={"channel": channel, "subject": subject},
        subject_type="conversation", subject_id=conversation_id,
    )


def conversation_status_changed_event(
    *, contact_id: int, conversation_id: int, status: str, occurred_at: datetime, actor: str
) -> TimelineEvent:
    return _record(
        contact_id=contact_id, kind=EventKind.CONVERSATION_STATUS_CHANGED,
        occurred_at=occurred_at, actor=actor, payload={"status": status},
        subject_type="conversation", subject_id=conversation_id,
    )


# --- Conversations and routing (recorded by conversations/, which owns both ends) --------------

CONVERSATION_ASSIGNED = "conversation.assigned"
CONVERSATION_TRANSFERRED = "conversation.transferred"
CONVERSATION_NOTE = "conversation.note"
# A chat's contact ended it (the widget's "End chat") or went away: before an agent answered
# (abandoned, with the wait), or after (the agent still wraps it up).
CONVERSATION_ABANDONED = "conversation.abandoned"
CONVERSATION_CONTACT_ENDED = "conversation.contact_ended"
# Routing's own history of a conversation's work item, copied in batches (routing.<kind>).
ROUTING_KINDS = frozenset({"queued", "assigned", "accepted", "transferred", "breached", "completed"})
NOTE_EXCERPT_CHARS = 200



def known_kinds() -> frozenset[str]:
    """Every kind this module writes, for validating filters: the EventKind values and any
    upper-case module constant that names a kind (so a kind added below is known at once)."""
    names = {**vars(EventKind), **globals()}
    kinds = {value for name, value in names.items()
             if name.isupper() and isinstance(value, str) and "." in value and value != TIMELINE_STREAM}
    return frozenset(kinds | {f"routing.{kind}" for kind in ROUTING_KINDS}
                     | {f"call.{kind}" for kind in CALL_KINDS})


def conversation_assigned_event(
    *, contact_id: int, conversation_id: int, agent: str, occurred_at: datetime, actor: str
) -> TimelineEvent:
    return _record(
        contact_id=contact_id, kind=CONVERSATION_ASSIGNED, occurred_at=occurred_at, actor=actor,
        payload={"agent": agent}, subject_type="conversation", subject_id=conversation_id,
    )


def conversation_transferred_event(
    *, contact_id: int, conversation_id: int, to_queue: str = "", to_agent: str = "",
    occurred_at: datetime, actor: str,
) -> TimelineEvent:
    payload = {"to_queue": to_queue, "to_agent": to_agent}
    return _record(
        contact_id=contact_id, kind=CONVERSATION_TRANSFERRED, occurred_at=occurred_at, actor=actor,
        payload={key: value for key, value in payload.items() if value},
        subject_type="conversation", subject_id=conversation_id,
    )


def conversation_note_event(
    *, contact_id: int, conversation_id: int, author: str, body: str, occurred_at: datetime,
    actor: str,
) -> TimelineEvent:
    return _record(
        contact_id=contact_id, kind=CONVERSATION_NOTE, occurred_at=occurred_at, actor=actor,
        payload={"author": author, "excerpt": body[:NOTE_EXCERPT_CHARS]},
        subject_type="conversation", subject_id=conversation_id,
    )


def conversation_contact_ended_event(
    *, contact_id: int, conversation_id: int, abandoned: bool, how: str, wait_seconds: int | None,
    occurred_at: datetime, actor: str,
) -> TimelineEvent:
    """`how`: "ended" (the widget's button) or "left" (the visitor's socket went away);
    `occurred_at`: when they left; `wait_seconds`: from the routing to then (abandoned only)."""
    payload: dict[str, Any] = {"how": how}
    if abandoned and wait_seconds is not None:
        payload["wait_seconds"] = wait_seconds
    return _record(
        contact_id=contact_id, kind=CONVERSATION_ABANDONED if abandoned else CONVERSATION_CONTACT_ENDED,
        occurred_at=occurred_at, actor=actor, payload=payload,
        subject_type="conversation", subject_id=conversation_id,
    )


def routing_event(
    *, contact_id: int, conversation_id: int, kind: str, detail: dict[str, Any],
    occurred_at: datetime, actor: str = "routing",
) -> TimelineEvent:
    """One entry of routing's history of a conversation (`kind` is routing's: queued, ...)."""
    if kind not in ROUTING_KINDS:
        raise ValueError(f"Routing event {kind!r} is not kept on the timeline.")
    return _record(
        contact_id=contact_id, kind=f"routing.{kind}", occurred_at=occurred_at, actor=actor,
        payload=detail, subject_type="conversation", subject_id=conversation_id,
    )


# What happens to a phone call (conversations' CallEventKind), as call.<kind>.
CALL_KINDS = frozenset({"ringing", "language", "queued", "offered", "missed", "answered", "held", "resumed",
                        "transferred", "callback_requested", "dialled", "ended", "abandoned", "not_answered",
                        "failed", "recording"})


def call_event(
    *, contact_id: int, conversation_id: int, kind: str, detail: dict[str, Any], occurred_at: datetime,
    actor: str,
) -> TimelineEvent:
    """One step of a phone call of the conversation (answered, held, ended with its duration...)."""
    if kind not in CALL_KINDS:
        raise ValueError(f"Call event {kind!r} is not kept on the timeline.")
    return _record(
        contact_id=contact_id, kind=f"call.{kind}", occurred_at=occurred_at, actor=actor,
        payload=detail, subject_type="conversation", subject_id=conversation_id,
    )


# --- Workflows (recorded by workflows/, which owns the runs) -------------------------------------


def workflow_run_event(
    *, contact_id: int, run_id: int, workflow: str, version: int, status: str, summary: str,
    occurred_at: datetime, actor: str,
) -> TimelineEvent:
    """A workflow run finished for the contact: what it did, in words ("sent an apology by
    email; granted a 5.00 EUR rebate"), so the agent who picks up the chat next sees it."""
    return _record(
        contact_id=contact_id, kind=EventKind.WORKFLOW_RUN, occurred_at=occurred_at, actor=actor,
        payload={"workflow": workflow, "summary": summary, "status": status, "version": version,
                 "run": run_id},
        subject_type="workflow_run", subject_id=run_id,
    )


# --- Satisfaction ratings (recorded by workflows.surveys) ------------------------------------------

RATING_COMMENT_CHARS = 500


def rating_given_event(
    *, contact_id: int, conversation_id: int, survey_id: int, score: int, comment: str, channel: str,
    rated_at: datetime, changed: bool, occurred_at: datetime, actor: str = "contact",
) -> TimelineEvent:
    """The contact rated a conversation 1-5 (`changed`: they changed an earlier answer to the same
    survey; the latest event per survey is the rating that stands, from `rated_at`, when it
    was first given: timeline.services.contacts_ratings_refresh reads these)."""
    return _record(
        contact_id=contact_id, kind=EventKind.RATING_GIVEN, occurred_at=occurred_at, actor=actor,
        payload={"score": score, "comment": comment[:RATING_COMMENT_CHARS], "survey": survey_id,
                 "channel": channel, "rated_at": rated_at, "changed": changed},
        subject_type="conversation", subject_id=conversation_id,
    )


def survey_sent_event(*, contact_id: int, conversation_id: int, survey_id: int, channel: str,
                      occurred_at: datetime) -> TimelineEvent:
    """The contact was asked to rate a conversation (the response rate counts these)."""
    return _record(
        contact_id=contact_id, kind=EventKind.SURVEY_SENT, occurred_at=occurred_at, actor="system",
        payload={"survey": survey_id, "channel": channel},
        subject_type="conversation", subject_id=conversation_id,
    )


# --- Segments and outreach (recorded by workflows.segments and workflows.outreach) ------------


def segment_entered_event(
    *, contact_id: int, segment_id: int, segment_key: str, segment_name: str, occurred_at: datetime,
    actor: str,
) -> TimelineEvent:
    """The contact entered a segment (its conditions came to hold, or they were added)."""
    return _record(
        contact_id=contact_id, kind=EventKind.SEGMENT_ENTERED, occurred_at=occurred_at, actor=actor,
        payload={"segment": segment_key, "name": segment_name},
        subject_type="segment", subject_id=segment_id,
    )


def segment_left_event(
    *, contact_id: int, segment_id: int, segment_key: str, segment_name: str, occurred_at: datetime,
    actor: str,
) -> TimelineEvent:
    """The contact left a segment (its conditions stopped holding, or they were removed)."""
    return _record(
        contact_id=contact_id, kind=EventKind.SEGMENT_LEFT, occurred_at=occurred_at, actor=actor,
        payload={"segment": segment_key, "name": segment_name},
        subject_type="segment", subject_id=segment_id,
    )


def outreach_sent_event(
    *, contact_id: int, campaign_id: int, campaign_name: str, channel: str, language: str, subject: str,
    reference: str, occurred_at: datetime, actor: str,
) -> TimelineEvent:
    """A campaign's message went to the contact."""
    return _record(
        contact_id=contact_id, kind=EventKind.OUTREACH_SENT, occurred_at=occurred_at, actor=actor,
        payload={"campaign": campaign_name, "channel": channel, "language": language, "subject": subject,
                 "reference": reference},
        subject_type="campaign", subject_id=campaign_id,
    )
