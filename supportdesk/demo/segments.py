"""The demo's segment of dissatisfied high-value customers, feeding a "service audit" queue
where agents review each one (a task per member, routed like any work)."""

from __future__ import annotations

from routing.models import Queue
from supportdesk.demo.queues import _queue_ensure
from workflows.segments import services as segments
from workflows.segments.models import Segment

AUDIT_QUEUE_KEY = "service-audit"
SEGMENT_KEY = "unhappy-high-value"
# Lifetime value of 300 EUR or more, and a last rating of 2 of 5 or lower or an average
# under 3: the seed's customers worth recovering before they write in.
UNHAPPY_HIGH_VALUE = {"all": [
    {"attribute": "contact.kind", "op": "eq", "value": "customer"},
    {"attribute": "contact.lifetime_order_value", "op": "gte", "value": 300},
    {"any": [
        {"attribute": "contact.last_rating", "op": "lte", "value": 2},
        {"attribute": "contact.rating_avg_90d", "op": "lt", "value": 3},
    ]},
]}


def demo_segments_ensure() -> Segment:
    """The audit queue and the segment feeding it; an existing segment keeps a supervisor's
    edits and is only refreshed (the bulk seeding writes no events for it to follow)."""
    queue: Queue = _queue_ensure(key=AUDIT_QUEUE_KEY, name="Service audit", priority=30,
                                 target_wait_seconds=8 * 3600)
    segment = Segment.objects.filter(key=SEGMENT_KEY).first()
    if segment is None:
        segment = Segment(key=SEGMENT_KEY, name="Dissatisfied high-value customers", conditions=UNHAPPY_HIGH_VALUE,
                          feed_queue=queue, description="Customers worth 300 EUR or more whose last rating "
                          "was 2 of 5 or lower, or whose 90-day average is under 3. Each gets a service "
                          "audit task.")
        segments.segment_save(segment=segment)
    else:
        segments.segment_refresh(segment_id=segment.pk)
    return segment
