"""The reports' counters over the seeded history, worked out at the end of the seeding.

The history is written in bulk, without the outbox entries through which the worker keeps
the reports' counters up to date (`reports.rollups`), so the seeding works them out from the
raw records, from the hour of the first conversation to now, with the reports' own rebuild
(what `manage.py rollups_rebuild` runs): they are what the worker would have counted live.
The ongoing conversations' own entries, drained later, then change nothing. A run that wrote
nothing skips it while every conversation has its facts, so a rerun of `make run` costs
nothing and leaves the counters as they are.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Min
from django.utils import timezone

from conversations.models import Conversation
from reports.models import ConversationFact
from reports.rollups import RebuildProgress, rollups_rebuild


@dataclass(frozen=True)
class RollupsRebuilt:
    start: datetime
    end: datetime
    conversations: int
    seconds: float


def demo_rollups_rebuild(
    *, wrote: bool, on_progress: Callable[[RebuildProgress], None] | None = None,
) -> RollupsRebuilt | None:
    """Rebuild the counters over the whole history if this run `wrote` any or a conversation
    has no facts yet; None when there was nothing to do."""
    if not wrote and not Conversation.objects.exclude(
            pk__in=ConversationFact.objects.values("conversation_id")).exists():
        return None
    start = Conversation.objects.aggregate(first=Min("created_at"))["first"]
    if start is None:
        return None
    started, end = time.monotonic(), timezone.now()
    conversations = rollups_rebuild(start, end, on_progress=on_progress)
    return RollupsRebuilt(start=start, end=end, conversations=conversations,
                          seconds=time.monotonic() - started)
