"""The unit of work and the routing history writer.

A use case runs inside `unit_of_work()`: the history it records is written in one
INSERT at its end, in the same transaction, and items whose lapsed offers it expired are
matched again once it is done with its locks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from django.utils import timezone

from routing.models import (
    HISTORY_STREAM,
    ItemState,
    WorkItem,
    WorkItemEvent,
)
from routing.services import matching
from supportdesk.outbox import outbox_bulk_create

_event_buffer: ContextVar[list[WorkItemEvent] | None] = ContextVar("routing_event_buffer", default=None)
_rematch_buffer: ContextVar[list[int] | None] = ContextVar("routing_rematch_buffer", default=None)


@contextmanager
def unit_of_work() -> Iterator[None]:
    """One use case's writes: the items whose lapsed offers it expired on the way are
    matched again at its end (not in the middle of the match or pull that found them,
    holding its locks), and the history it recorded is written in one INSERT, inside the
    caller's transaction, so it commits or rolls back with the change it records."""
    buffer: list[WorkItemEvent] = []
    rematch: list[int] = []
    tokens = _event_buffer.set(buffer), _rematch_buffer.set(rematch)
    try:
        yield
        while rematch:
            item = (WorkItem.objects.select_for_update(of=("self",)).select_related("queue")
                    .filter(pk=rematch.pop(0), state=ItemState.WAITING).first())
            if item is not None:  # else taken meanwhile, in this same use case
                matching.item_match(item, now=timezone.now())
        if buffer:
            outbox_bulk_create(buffer, stream=HISTORY_STREAM)
    finally:
        _event_buffer.reset(tokens[0])
        _rematch_buffer.reset(tokens[1])


def rematch_later(item: WorkItem) -> None:
    """Match a locked waiting item again once the current use case is done with its locks."""
    pending = _rematch_buffer.get()
    if pending is None:
        matching.item_match(item, now=timezone.now())
    elif item.pk not in pending:
        pending.append(item.pk)


def event_record(item: WorkItem, kind: str, *, at: datetime, agent_id: int | None = None, **detail: Any) -> None:
    """Record one step of the item's history; `kind` is one of `WorkItemEvent.Kind` (a
    ValueError otherwise: the readers of the history know only those)."""
    event = WorkItemEvent(item_id=item.pk, kind=WorkItemEvent.Kind(kind).value, at=at, agent_id=agent_id,
                          queue_id=item.queue_id, detail=detail)
    event.channel = item.channel  # not a column: for the outbox consumers' `wants`
    buffer = _event_buffer.get()
    if buffer is not None:
        buffer.append(event)
    else:
        # With its outbox entries (supportdesk.outbox), which carry it to the layers above.
        outbox_bulk_create([event], stream=HISTORY_STREAM)
