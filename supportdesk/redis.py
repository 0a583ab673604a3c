"""One Redis connection pool per process, for the small things that are not Celery or Channels,
and the one way their keys are named: under the deployment's REDIS_KEY_PREFIX (Celery and the
channel layer get the same prefix through their own settings)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import cache

import redis
from django.conf import settings

log = logging.getLogger(__name__)


@cache
def get_redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)


def redis_key(*parts: str) -> str:
    """The deployment's key for `parts`: desks sharing one Redis server never read each other's keys."""
    return ":".join((settings.REDIS_KEY_PREFIX, *parts))


_windows_end: dict[str, float] = {}  # name -> time.monotonic() until which this process need not ask


def debounced(name: str, enqueue: Callable[[float], None], *, window_ms: int = 200) -> None:
    """Call `enqueue(countdown_seconds)` at most once per window across every process (a Redis key
    set NX for the window), for work that drains whatever is stored (a burst of webhook posts
    asks for one drain, not one each). The drain runs just after the window closes, so it sees
    everything committed in it; the first request after the window asks for the next. Failing
    to reach Redis or the broker loses nothing: the stored work waits for beat's drain."""
    if settings.CELERY_TASK_ALWAYS_EAGER:  # tasks run at once, where asked: nothing to gather
        enqueue(0.0)
        return
    now = time.monotonic()
    if now < _windows_end.get(name, 0.0):
        return
    key = redis_key("debounce", name)
    try:
        client = get_redis()
        if client.set(key, 1, nx=True, px=window_ms):
            _windows_end[name] = now + window_ms / 1000
            enqueue((window_ms + 50) / 1000)
        elif (remaining := client.pttl(key)) > 0:
            _windows_end[name] = now + remaining / 1000
    except Exception:
        log.warning("Could not ask for %s now; beat's drain will run it", name, exc_info=True)
