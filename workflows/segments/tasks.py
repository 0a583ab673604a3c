"""Celery tasks for segments: thin and idempotent, each calling one service."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from celery import shared_task

from workflows.segments import services
from workflows.segments.models import Segment

log = logging.getLogger(__name__)

FEED_CHUNK = 200  # contacts a feeding task opens tasks for


@shared_task(name="workflows.segments.tasks.segments_membership_drain", ignore_result=True)
def segments_membership_drain() -> int:
    """Apply the timeline's new events to the segments' members (beat, every second)."""
    return services.membership_drain()


@shared_task(name="workflows.segments.tasks.segments_refresh", ignore_result=True)
def segments_refresh() -> int:
    """Re-evaluate every active segment in full (beat): conditions over time windows stop
    holding as time passes, with no event to say so. The number of segments refreshed."""
    ids = list(Segment.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True))
    for segment_id in ids:
        try:
            services.segment_refresh(segment_id=segment_id)
        except Segment.DoesNotExist:  # deleted since the list was read
            continue
    return len(ids)


@shared_task(name="workflows.segments.tasks.segment_refresh", ignore_result=True)
def segment_refresh(segment_id: int, record_events: bool = True, actor: str = "system") -> None:
    """Evaluate one segment over every contact (after it was saved in the admin); a segment
    deleted since the task was queued has nothing left to evaluate."""
    try:
        services.segment_refresh(segment_id=segment_id, record_events=record_events, actor=actor)
    except Segment.DoesNotExist:
        log.info("Segment %s no longer exists: nothing to refresh", segment_id)


@shared_task(name="workflows.segments.tasks.segment_feed", ignore_result=True,
             autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def segment_feed(segment_id: int, contact_ids: list[int]) -> int:
    """Open the audit tasks of these members (idempotent per segment and contact)."""
    return services.segment_feed(segment_id=segment_id, contact_ids=contact_ids)


def segment_feed_enqueue(segment_id: int, contact_ids: Sequence[int]) -> None:
    """Queue the feeding of these members, a task per chunk (called after commit)."""
    for start in range(0, len(contact_ids), FEED_CHUNK):
        segment_feed.delay(segment_id, list(contact_ids[start:start + FEED_CHUNK]))
