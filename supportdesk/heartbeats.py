"""Heartbeats of Celery beat and the worker, for /readyz and the logs.

Beat publishes `supportdesk.tasks.heartbeat` every HEARTBEAT_INTERVAL_SECONDS: publishing it
records "beat alive" (a signal in beat's own process, supportdesk.celery) and a worker running
it records "worker alive", so the worker's heartbeat proves the whole way round: broker, queue,
a worker taking tasks. Both are timestamps in Redis under the deployment's prefix. One older
than HEARTBEAT_MAX_AGE_SECONDS is stale: /readyz names it (503 unless READYZ_HEARTBEATS is
off) and a warning is logged when it goes stale (by the web process answering /readyz, and
by beat when the worker's goes stale) and an info line when it is back.
"""

from __future__ import annotations

import logging
import time

import redis
from django.conf import settings

from supportdesk.redis import get_redis, redis_key

log = logging.getLogger(__name__)

COMPONENTS = ("beat", "worker")
# Kept a day past its last beat, so /readyz can say how long ago it was rather than "never".
_KEY_TTL_SECONDS = 24 * 3600
# What this process last found stale, so a warning is logged once per outage, not per probe.
_stale_seen: set[str] = set()


def heartbeat_record(component: str, *, now: float | None = None, client: redis.Redis | None = None) -> None:
    (client or get_redis()).set(redis_key("heartbeat", component), repr(time.time() if now is None else now),
                                ex=_KEY_TTL_SECONDS)


def heartbeat_ages(*, client: redis.Redis | None = None, now: float | None = None) -> dict[str, float | None]:
    """Seconds since each component's last heartbeat; None when none is on record."""
    now = time.time() if now is None else now
    values = (client or get_redis()).mget([redis_key("heartbeat", component) for component in COMPONENTS])
    return {component: (max(0.0, now - float(value)) if value is not None else None)
            for component, value in zip(COMPONENTS, values, strict=True)}


def heartbeat_problem(component: str, age: float | None) -> str | None:
    """None when `component` beat recently enough, else why not; logs the change either way."""
    limit = settings.HEARTBEAT_MAX_AGE_SECONDS
    if age is None:
        problem: str | None = f"no heartbeat of the {component} on record (is it running?)"
    elif age > limit:
        problem = f"last heartbeat of the {component} {age:.0f} s ago (stale after {limit} s)"
    else:
        problem = None
    if problem and component not in _stale_seen:
        _stale_seen.add(component)
        log.warning("Celery %s is stale: %s", component, problem)
    elif not problem and component in _stale_seen:
        _stale_seen.discard(component)
        log.info("Celery %s is beating again", component)
    return problem


def beat_published() -> None:
    """Beat has just published the heartbeat task: beat is alive; and beat, which runs on
    whether a worker does or not, is where a dead worker shows in the logs."""
    client = get_redis()
    try:
        heartbeat_record("beat", client=client)
        heartbeat_problem("worker", heartbeat_ages(client=client)["worker"])
    except redis.RedisError as exc:  # the task is published all the same (the broker may differ)
        log.warning("Could not record beat's heartbeat: %s", exc)
