"""Routing's history of a conversation, copied to its contact's timeline: a consumer of the
outbox routing writes with each event (supportdesk.outbox), registered at start-up.

Routing never learns about it (a lower layer): its hot path writes its own history and, in the
same statement, the entries of the consumers registered for that stream. This module owns
both ends it joins: the conversation (so the contact) and the timeline's writer.
"""

from __future__ import annotations

import json

from django.db import connection

from conversations.models import Conversation
from routing.models import HISTORY_STREAM, AgentProfile, Queue, WorkItem, WorkItemEvent
from supportdesk import outbox
from timeline import events

ROUTING_HISTORY = "conversations.routing_history"  # the consumer's name in the outbox


def _rows(event_ids: list[int]) -> list[tuple]:
    """The routing events with these ids, in id order, with what the timeline shows:
    conversation, contact, queue key and agent name."""
    quote = connection.ops.quote_name
    user_table = AgentProfile._meta.get_field("user").related_model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"""
            SELECT e.id, e.kind, e.at, e.detail, i.conversation_id, c.contact_id, q.key,
                   coalesce(nullif(u.first_name, ''), u.username)
              FROM {quote(WorkItemEvent._meta.db_table)} e
              JOIN {quote(WorkItem._meta.db_table)} i ON i.id = e.item_id
              LEFT JOIN {quote(Conversation._meta.db_table)} c ON c.id = i.conversation_id
              LEFT JOIN {quote(Queue._meta.db_table)} q ON q.id = e.queue_id
              LEFT JOIN {quote(AgentProfile._meta.db_table)} a ON a.id = e.agent_id
              LEFT JOIN {quote(user_table)} u ON u.id = a.user_id
             WHERE e.id = ANY(%s)
             ORDER BY e.id
        """, [event_ids])
        return cursor.fetchall()


def routing_history_apply(event_ids: list[int]) -> None:
    """Copy these routing events (queued, assigned, accepted, transferred, breached,
    completed) to the timelines of their conversations' contacts, in the drain's transaction.

    Exactly once: the drain deletes the events' outbox entries in this same transaction.
    Events of work items without a conversation, or gone since, leave nothing.
    """
    with events.buffered():
        for _event_id, kind, at, detail, conversation_id, contact_id, queue_key, agent in _rows(event_ids):
            if kind not in WorkItemEvent.CONTACT_HISTORY_KINDS or contact_id is None:
                continue
            # Raw SQL hands jsonb over as text (Django decodes it only for model fields).
            detail = json.loads(detail) if isinstance(detail, str) else detail
            payload = {**(detail or {}), "queue": queue_key or "", "agent": agent or ""}
            events.routing_event(
                contact_id=contact_id, conversation_id=conversation_id, kind=kind,
                detail={name: value for name, value in payload.items() if value not in ("", None)},
                occurred_at=at,
            )


def _kept(event: WorkItemEvent) -> bool:
    # Offers, declines and expiries never reach the timeline: they get no outbox entry.
    return event.kind in WorkItemEvent.CONTACT_HISTORY_KINDS


# Rings of a call at an agent's workspace: offered, then declined or let time out (missed).
CALL_RINGS = "conversations.call_rings"
_RING_KINDS = frozenset({WorkItemEvent.Kind.OFFERED, WorkItemEvent.Kind.EXPIRED, WorkItemEvent.Kind.DECLINED})


def _voice_ring(event: WorkItemEvent) -> bool:
    # routing sets `channel` on the events it writes (not a column), so chats' offers get no entry.
    return event.kind in _RING_KINDS and getattr(event, "channel", "") == "voice"


def call_rings_apply(event_ids: list[int]) -> None:
    """Record each ring of a call at an agent on the call: offered, or missed (declined or
    timed out). Exactly once: keyed on routing's event id."""
    from conversations.services.calls import call_offer_missed, call_offered  # they build on services

    rings = (WorkItemEvent.objects.filter(pk__in=event_ids).select_related("item", "agent__user").order_by("pk"))
    for event in rings:
        agent = event.agent.user if event.agent is not None else None
        key = f"ring:{event.pk}"
        if event.kind == WorkItemEvent.Kind.OFFERED:
            call_offered(conversation_id=event.item.conversation_id, agent=agent, at=event.at, key=key)
        else:
            call_offer_missed(conversation_id=event.item.conversation_id, agent=agent, at=event.at, key=key,
                              declined=event.kind == WorkItemEvent.Kind.DECLINED)


def routing_history_register() -> None:
    """Subscribe the copier to routing's history (from the app's ready())."""
    outbox.consumer_register(name=ROUTING_HISTORY, stream=HISTORY_STREAM,
                             handle=routing_history_apply, wants=_kept)
    outbox.consumer_register(name=CALL_RINGS, stream=HISTORY_STREAM, handle=call_rings_apply, wants=_voice_ring)


def routing_history_copy(*, batch_size: int = 1000) -> outbox.Drained:
    """Copy one batch of routing's new history to the timelines (idempotent; safe to run in
    parallel: each drainer takes entries no other one holds)."""
    return outbox.outbox_drain(consumer=ROUTING_HISTORY, batch_size=batch_size)


def call_rings_copy(*, batch_size: int = 200) -> int:
    """Record the calls' new rings at agents (idempotent); how many."""
    return outbox.outbox_drain_batches(consumer=CALL_RINGS, batches=10, batch_size=batch_size)
