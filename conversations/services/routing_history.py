"""Routing's own history copied to the contacts' timelines."""

from __future__ import annotations

import json
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from conversations.models import Conversation, RoutingHistoryWatermark
from routing.models import AgentProfile, Queue, WorkItem, WorkItemEvent
from timeline import events

ROUTING_HISTORY = "routing_history"
# Ids are handed out before commit, so a routing event can become visible after one with a
# larger id. Ids the copier has passed but not seen are kept as gaps and looked for again on
# each run, for longer than any routing transaction lasts; most are ids of rolled-back
# transactions, which never appear.
GAP_KEEP = timedelta(minutes=10)
GAPS_MAX = 5000


def _routing_history_rows(*, after_id: int, gap_ids: list[int], limit: int) -> list[tuple]:
    """Routing's history after `after_id` (in id order, up to `limit`) and any of `gap_ids`,
    with what the timeline shows: conversation, contact, queue key and agent name."""
    quote = connection.ops.quote_name
    user_table = AgentProfile._meta.get_field("user").related_model._meta.db_table
    select = f"""
        SELECT e.id, e.kind, e.at, e.detail, i.conversation_id, c.contact_id, q.key,
               coalesce(nullif(u.first_name, ''), u.username)
          FROM {quote(WorkItemEvent._meta.db_table)} e
          JOIN {quote(WorkItem._meta.db_table)} i ON i.id = e.item_id
          LEFT JOIN {quote(Conversation._meta.db_table)} c ON c.id = i.conversation_id
          LEFT JOIN {quote(Queue._meta.db_table)} q ON q.id = e.queue_id
          LEFT JOIN {quote(AgentProfile._meta.db_table)} a ON a.id = e.agent_id
          LEFT JOIN {quote(user_table)} u ON u.id = a.user_id
    """
    with connection.cursor() as cursor:
        cursor.execute(f"{select} WHERE e.id > %s ORDER BY e.id LIMIT %s", [after_id, limit])
        rows = cursor.fetchall()
        if gap_ids:
            cursor.execute(f"{select} WHERE e.id = ANY(%s)", [gap_ids])
            rows = cursor.fetchall() + rows
    return rows


def routing_history_copy(*, batch_size: int = 1000) -> int:
    """Copy routing's new history (queued, assigned, accepted, transferred, breached,
    completed) to the timelines of the conversations' contacts; the number of events copied.

    Idempotent: the watermark (the last routing event id looked at, and the gaps below it)
    moves in the same transaction as the copies, under a row lock, so two runs never copy a
    row twice. Routing never learns about it: its hot path writes only its own history.
    """
    RoutingHistoryWatermark.objects.bulk_create([RoutingHistoryWatermark(key=ROUTING_HISTORY)],
                                                ignore_conflicts=True)
    now = timezone.now()
    with transaction.atomic():
        watermark = RoutingHistoryWatermark.objects.select_for_update().get(key=ROUTING_HISTORY)
        gaps = {int(gap_id): seen for gap_id, seen in watermark.gaps}
        rows = _routing_history_rows(after_id=watermark.last_event_id, gap_ids=sorted(gaps),
                                     limit=batch_size)
        copied = 0
        with events.buffered():
            for event_id, kind, at, detail, conversation_id, contact_id, queue_key, agent in rows:
                gaps.pop(event_id, None)
                if kind not in events.ROUTING_KINDS or contact_id is None:
                    continue
                # Raw SQL hands jsonb over as text (Django decodes it only for model fields).
                detail = json.loads(detail) if isinstance(detail, str) else detail
                payload = {**(detail or {}), "queue": queue_key or "", "agent": agent or ""}
                events.routing_event(
                    contact_id=contact_id, conversation_id=conversation_id, kind=kind,
                    detail={name: value for name, value in payload.items() if value not in ("", None)},
                    occurred_at=at,
                )
                copied += 1
        new_ids = sorted(row[0] for row in rows if row[0] > watermark.last_event_id)
        seen = set(new_ids)
        # The first run starts at the first event it finds: nothing before it was passed over.
        previous = watermark.last_event_id or (new_ids[0] - 1 if new_ids else 0)
        for event_id in new_ids:
            gaps.update({gap_id: now.isoformat()
                         for gap_id in range(max(previous + 1, event_id - GAPS_MAX), event_id)
                         if gap_id not in seen})
            previous = event_id
        expired = (now - GAP_KEEP).isoformat()
        kept = sorted((gap_id, seen_at) for gap_id, seen_at in gaps.items() if seen_at > expired)
        watermark.gaps = [list(gap) for gap in kept[-GAPS_MAX:]]
        watermark.last_event_id = previous
        if rows or kept != sorted(gaps.items()):
            watermark.save(update_fields=["last_event_id", "gaps", "updated_at"])
    return copied
