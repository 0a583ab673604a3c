"""The reports' counters over the demo's history, worked out at the end of the seeding.

The demo's history is written in bulk, without the outbox entries through which the worker
keeps the reports' counters up to date (`reports.rollups`), so a step the seeding runs after
it (`supportdesk.seeding`, registered in `reports.apps`) works them out from the
raw records, from the hour of the first conversation to now, with the reports' own rebuild
(what `manage.py rollups_rebuild` runs): they are what the worker would have counted live.
The ongoing conversations' own entries, drained later, then change nothing. A run that wrote
nothing skips it while every conversation has its facts, so a rerun of `make run` costs
nothing and leaves the counters as they are.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.db.models import Min
from django.utils import timezone

from conversations.models import Conversation
from reports.models import ConversationFact
from reports.rollups import RebuildProgress, rollups_rebuild
from supportdesk.seeding import StepProgress, step_register


def demo_counters_rebuild(*, wrote: bool, on_progress: Callable[[StepProgress], None] | None) -> str:
    """Rebuild the counters over the whole history if this run `wrote` any or a conversation
    has no facts yet; the outcome, for the person seeding."""
    up_to_date = "Reports: their counters were up to date (/desk/reports/)."
    if not wrote and not Conversation.objects.exclude(
            pk__in=ConversationFact.objects.values("conversation_id")).exists():
        return up_to_date
    start = Conversation.objects.aggregate(first=Min("created_at"))["first"]
    if start is None:
        return up_to_date

    def progress(rebuilt: RebuildProgress) -> None:
        on_progress(StepProgress(what="reports' counters", done=rebuilt.done, total=rebuilt.total,
                                 unit="conversations"))

    started, end = time.monotonic(), timezone.now()
    conversations = rollups_rebuild(start, end, on_progress=None if on_progress is None else progress)
    return (f"Reports: counters worked out from {conversations:,} conversations, "
            f"{start:%Y-%m-%d} to {end:%Y-%m-%d}, in {time.monotonic() - started:.1f}s (/desk/reports/).")


def demo_step_register() -> None:
    """From the app's ready()."""
    step_register(name="reports", step=demo_counters_rebuild)
