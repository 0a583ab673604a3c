"""Hand-built histories for the reports' tests: conversations, work items, their routing
history, messages and status changes written as rows at chosen times, so each test can work
out the right figures itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from conversations.models import Conversation, Message
from reports.models import HOUR_COUNTERS, HourRollup
from routing.models import AgentProfile, Queue, WorkItem, WorkItemEvent
from tests.factories import AgentProfileFactory, ContactFactory
from timeline.events import EventKind
from timeline.models import Contact, TimelineEvent

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday, 10:00 UTC


def at(minutes: float = 0, seconds: float = 0, days: float = 0) -> datetime:
    return T0 + timedelta(days=days, minutes=minutes, seconds=seconds)


def queue(key: str = "general", target: int = 60) -> Queue:
    found, _ = Queue.objects.update_or_create(key=key, defaults={"name": key.title(),
                                                                 "target_wait_seconds": target})
    return found


def agent() -> AgentProfile:
    return AgentProfileFactory()


def conversation(*, created: datetime, contact: Contact | None = None, channel: str = "chat",
                 language: str = "es", **fields: Any) -> Conversation:
    record = Conversation.objects.create(contact=contact or ContactFactory(), channel=channel, language=language,
                                         **fields)
    Conversation.objects.filter(pk=record.pk).update(created_at=created)
    record.refresh_from_db()
    return record


def item(record: Conversation, in_queue: Queue, *, enqueued: datetime, state: str = "waiting",
         answered: datetime | None = None, completed: datetime | None = None,
         history: list[tuple[str, datetime, AgentProfile | None]] = ()) -> WorkItem:
    work = WorkItem.objects.create(
        conversation_id=record.pk, channel=record.channel, language=record.language,
        contact_kind=record.contact.kind, queue=in_queue, queue_priority=in_queue.priority,
        enqueued_at=enqueued, queued_at=enqueued, state=state, answered_at=answered, completed_at=completed)
    WorkItemEvent.objects.create(item=work, kind="queued", at=enqueued, queue=in_queue)
    for kind, moment, by in history:
        WorkItemEvent.objects.create(item=work, kind=kind, at=moment, agent=by, queue=in_queue)
    return work


def message(record: Conversation, *, direction: str, sent: datetime, by: Any = None) -> Message:
    record.last_message_sequence += 1
    Conversation.objects.filter(pk=record.pk).update(last_message_sequence=record.last_message_sequence)
    row = Message.objects.create(conversation=record, sequence=record.last_message_sequence, direction=direction,
                                 author_user=by, body="…")
    Message.objects.filter(pk=row.pk).update(created_at=sent)
    return row


def status(record: Conversation, value: str, moment: datetime, *, reason: str = "") -> None:
    """The conversation's status changes at `moment`, with its timeline event."""
    fields: dict[str, Any] = {"status": value}
    if value == "resolved":
        fields["resolved_at"] = moment
    elif value in ("open", "pending"):
        fields["resolved_at"] = None
    if reason:
        fields["contact_reason"] = reason
    Conversation.objects.filter(pk=record.pk).update(**fields)
    TimelineEvent.objects.create(contact_id=record.contact_id, occurred_at=moment,
                                 kind=EventKind.CONVERSATION_STATUS_CHANGED, payload={"status": value},
                                 subject_type="conversation", subject_id=record.pk)


def totals(**filters: Any) -> dict[str, float]:
    """The counters summed over the rows matching `filters` (hour=..., queue_id=..., ...)."""
    rows = HourRollup.objects.filter(**filters).values(*HOUR_COUNTERS)
    summed = dict.fromkeys(HOUR_COUNTERS, 0.0)
    for row in rows:
        for name in HOUR_COUNTERS:
            summed[name] += row[name]
    return summed
