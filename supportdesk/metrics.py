"""Counters and histograms any process can add to, summed across every process of the desk.

Web processes, Celery workers and beat each count what happens in them (requests and their
latency, tasks and their lag, failures, sockets opened and closed); `/metrics` must show the
sums. Each process adds to a buffer in memory (a dict under a lock: nothing on the request's
path waits on the network) and a thread of its own adds the buffer to Redis hashes every
`METRICS_FLUSH_SECONDS`, one pipeline for all. Redis down: the buffer is kept and added on
the next flush that reaches it, so nothing counted is lost with the outage (a process killed
meanwhile loses its last seconds). Reads (`metrics_read`) sum the hashes.

A series is a name and its labels; a histogram is its buckets' counts (cumulative, as
Prometheus wants them, computed on read), its count and its sum.
"""

from __future__ import annotations

import atexit
import bisect
import logging
import os
import threading
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings

from supportdesk.redis import get_redis, redis_key

log = logging.getLogger(__name__)

# Seconds: from a fast API call to a slow export, and a task's wait in the broker.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

_lock = threading.Lock()
_pending: dict[tuple[str, str], float] = defaultdict(float)  # (name, field) -> amount to add
_flusher_pid: int | None = None


def _labels_field(labels: dict[str, str] | None) -> str:
    clean = str.maketrans({",": "_", "=": "_", "|": "_"})  # the field's own separators
    return ",".join(f"{key}={str(value).translate(clean)}" for key, value in sorted((labels or {}).items()))


def count(name: str, labels: dict[str, str] | None = None, amount: float = 1.0) -> None:
    """Add `amount` to the counter (or, with a negative amount, the gauge) `name{labels}`."""
    _add(name, _labels_field(labels), amount)


def observe(name: str, seconds: float, labels: dict[str, str] | None = None) -> None:
    """One observation of the histogram `name{labels}`."""
    field = _labels_field(labels)
    bucket = bisect.bisect_left(BUCKETS, seconds)
    with _lock:
        _pending[(name, f"{field}|b{bucket}")] += 1
        _pending[(name, f"{field}|count")] += 1
        _pending[(name, f"{field}|sum")] += seconds
    _flusher_start()


def _add(name: str, field: str, amount: float) -> None:
    with _lock:
        _pending[(name, field)] += amount
    _flusher_start()


def metrics_flush() -> bool:
    """Add this process's buffer to Redis; False (the buffer kept) when Redis cannot be reached."""
    with _lock:
        taken = dict(_pending)
        _pending.clear()
    if not taken:
        return True
    try:
        pipeline = get_redis().pipeline(transaction=False)
        for (name, field), amount in taken.items():
            pipeline.hincrbyfloat(redis_key("metrics", name), field, amount)
        pipeline.execute()
        return True
    except Exception as error:  # the outage is reported by /readyz; here the counts wait
        with _lock:
            for key, amount in taken.items():
                _pending[key] += amount
        log.warning("Could not add this process's metrics to Redis (%s); kept for the next flush", error)
        return False


def _flusher_start() -> None:
    """The flushing thread of this process (started again in a forked child: threads do not
    survive a fork)."""
    global _flusher_pid
    if _flusher_pid == os.getpid():
        return
    with _lock:
        if _flusher_pid == os.getpid():
            return
        _flusher_pid = os.getpid()
    threading.Thread(target=_flush_forever, name="metrics-flush", daemon=True).start()


def _flush_forever() -> None:
    stop = threading.Event()
    while not stop.wait(settings.METRICS_FLUSH_SECONDS):
        metrics_flush()


atexit.register(metrics_flush)


@dataclass(frozen=True)
class Histogram:
    buckets: list[tuple[float, float]]  # (upper bound, cumulative count), +Inf last
    count: float
    sum: float


def metrics_read(name: str) -> dict[str, float]:
    """A counter's or gauge's series: {labels field: value}."""
    raw = get_redis().hgetall(redis_key("metrics", name))
    return {field.decode(): float(value) for field, value in raw.items()}


def histogram_read(name: str) -> dict[str, Histogram]:
    """A histogram's series: {labels field: Histogram}."""
    series: dict[str, dict[str, float]] = defaultdict(dict)
    for field, value in metrics_read(name).items():
        labels, _, part = field.rpartition("|")
        series[labels][part] = value
    histograms = {}
    for labels, parts in series.items():
        running, buckets = 0.0, []
        for index, bound in enumerate((*BUCKETS, float("inf"))):
            running += parts.get(f"b{index}", 0.0)
            buckets.append((bound, running))
        histograms[labels] = Histogram(buckets=buckets, count=parts.get("count", 0.0), sum=parts.get("sum", 0.0))
    return histograms


def labels_of(field: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in field.split(",") if part)
