"""Everything time-driven the beat runs, and the safety-net rematch of waiting items."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from routing.models import (
    ItemState,
    WorkItem,
)
from routing.services import items, presence, sla

_rematch_after: tuple[datetime, int] | None = None  # where this process's last pass stopped


def waiting_rematch(*, limit: int = 50) -> int:
    """The safety net: try waiting items again, `limit` per call, oldest first, going on
    from where the last call stopped and starting over at the end, so items nobody can
    take do not hold the others back. Returns how many were placed."""
    global _rematch_after
    waiting = WorkItem.objects.filter(state=ItemState.WAITING)
    if _rematch_after is not None:
        at, pk = _rematch_after
        waiting = waiting.filter(Q(enqueued_at__gt=at) | Q(enqueued_at=at, pk__gt=pk))
    rows = list(waiting.order_by("enqueued_at", "id").values_list("enqueued_at", "id")[:limit])
    _rematch_after = rows[-1] if len(rows) == limit else None
    return sum(1 for _, item_id in rows if items.work_item_match(item_id=item_id))


def routing_sweep() -> dict[str, int]:
    """Everything time-driven, for the beat: expire offers, expire silent agents, escalate,
    then re-run the match for the longest-waiting items."""
    result = {"offers_expired": items.offers_expire(), "agents_expired": presence.agents_heartbeat_expire()}
    result.update(sla.sla_sweep())
    result["rematched"] = waiting_rematch()
    return result
