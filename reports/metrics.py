"""What /metrics shows, in Prometheus' text format (prometheus_client).

Read at each scrape, so every figure is the desk's, not one process's:

- from PostgreSQL: per queue, the work waiting, its oldest wait, offered, assigned, breached
  today and today's service level (routing's board, `queue_stats`); agents by presence; per
  outbox consumer (the OMS and the providers' webhook events, the timeline's reactions...)
  the entries pending, the oldest one's age and those parked after failing;
- from the counters every process adds to (supportdesk.metrics): requests by status class
  and their latency, websocket connections open, Celery tasks' lag in the broker and
  failures by task, posts to the signed webhooks by answer status (accepted 202/200, refused 4xx).
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db import connection
from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from routing.models import AgentProfile
from routing.selectors import queue_stats
from supportdesk import metrics
from supportdesk.models import OutboxEntry

PREFIX = "supportdesk_"


class DeskCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from _queues()
        yield from _agents()
        yield from _outbox()
        yield from _counted()

    def describe(self) -> list[Metric]:
        return []  # collected at each scrape only (nothing is read at registration)


def _gauge(name: str, documentation: str, label: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, documentation, labels=[label])


def _queues() -> Iterator[Metric]:
    families = {
        "waiting": _gauge("queue_waiting", "Work items waiting for an agent.", "queue"),
        "longest_wait_seconds": _gauge("queue_oldest_wait_seconds", "How long the oldest waiting item has waited.",
                                       "queue"),
        "offered": _gauge("queue_offered", "Items offered to an agent now.", "queue"),
        "assigned": _gauge("queue_assigned", "Items assigned to an agent now.", "queue"),
        "breached_today": _gauge("queue_breached_today", "Items enqueued today that waited past the target.",
                                 "queue"),
        "service_level_today": _gauge("queue_service_level_today",
                                      "Share of today's items answered within the target (absent before any).",
                                      "queue"),
    }
    for row in queue_stats():
        for field, family in families.items():
            if row[field] is not None:
                family.add_metric([row["key"]], row[field])
    yield from families.values()


def _agents() -> Iterator[Metric]:
    family = _gauge("agents", "Agents by presence.", "presence")
    for row in AgentProfile.objects.values("presence").annotate(n=Count("id")).order_by("presence"):
        family.add_metric([row["presence"]], row["n"])
    yield family


def _outbox() -> Iterator[Metric]:
    pending = _gauge("outbox_pending", "Events waiting for their consumer.", "consumer")
    oldest = _gauge("outbox_oldest_pending_seconds", "Age of the oldest event waiting.", "consumer")
    parked = _gauge("outbox_parked", "Events the consumer gave up on after failing (retried from the admin).",
                    "consumer")
    table = connection.ops.quote_name(OutboxEntry._meta.db_table)
    with connection.cursor() as cursor:
        # The pending ones through the partial index; parked ones are few by design.
        cursor.execute(f"""SELECT consumer, count(*), min(created_at) FROM {table}
                            WHERE parked_at IS NULL GROUP BY consumer""")
        now = timezone.now()
        for consumer, count, first in cursor.fetchall():
            pending.add_metric([consumer], count)
            oldest.add_metric([consumer], max((now - first).total_seconds(), 0.0))
        cursor.execute(f"SELECT consumer, count(*) FROM {table} WHERE parked_at IS NOT NULL GROUP BY consumer")
        for consumer, count in cursor.fetchall():
            parked.add_metric([consumer], count)
    yield from (pending, oldest, parked)


_COUNTERS = {
    "websocket_connections": ("gauge", "Websocket connections open (opened minus closed)."),
    "celery_task_failures_total": ("counter", "Celery tasks that raised."),
    "webhook_posts_total": ("counter", "Posts to the signed webhooks (oms, whatsapp) by answer status."),
}
_HISTOGRAMS = {
    "http_request_duration_seconds": "Time to answer a request (Django's pages and API), by status class.",
    "celery_task_lag_seconds": "Time a task waited in the broker past its due time, by task.",
}


def _counted() -> Iterator[Metric]:
    metrics.metrics_flush()  # this process's last seconds too
    for name, (kind, documentation) in _COUNTERS.items():
        series = metrics.metrics_read(name)
        keys = sorted({key for field in series for key in metrics.labels_of(field)})
        family_type = GaugeMetricFamily if kind == "gauge" else CounterMetricFamily
        family = family_type(PREFIX + name, documentation, labels=keys)
        for field, value in sorted(series.items()):
            labels = metrics.labels_of(field)
            family.add_metric([labels.get(key, "") for key in keys], max(value, 0.0) if kind == "gauge" else value)
        yield family
    for name, documentation in _HISTOGRAMS.items():
        histograms = metrics.histogram_read(name)
        keys = sorted({key for field in histograms for key in metrics.labels_of(field)})
        family = HistogramMetricFamily(PREFIX + name, documentation, labels=keys)
        for field, histogram in sorted(histograms.items()):
            labels = metrics.labels_of(field)
            family.add_metric([labels.get(key, "") for key in keys],
                              buckets=[("+Inf" if bound == float("inf") else str(bound), value)
                                       for bound, value in histogram.buckets],
                              sum_value=histogram.sum)
        yield family
