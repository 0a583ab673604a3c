"""One Redis connection pool per process, for the small things that are not Celery or Channels,
and the one way their keys are named: under the deployment's REDIS_KEY_PREFIX (Celery and the
channel layer get the same prefix through their own settings)."""

from __future__ import annotations

from functools import cache

import redis
from django.conf import settings


@cache
def get_redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)


def redis_key(*parts: str) -> str:
    """The deployment's key for `parts`: desks sharing one Redis server never read each other's keys."""
    return ":".join((settings.REDIS_KEY_PREFIX, *parts))
