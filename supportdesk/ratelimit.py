"""Rate limits counted in Redis, shared by every process: fixed windows, one round trip a check.

A rate is written "<count>/<seconds>" in settings ("30/10": thirty per ten seconds). A
check counts one hit against each key and says how long to wait when one is over. A
fixed window lets a burst of twice the count straddle a boundary; for keeping one
visitor or one address from flooding the desk that is close enough, and it costs one
INCR per key instead of a sorted set per key.

When Redis does not answer, the check lets the request through (and logs it): the
limits protect the desk, they must not take the chat down with Redis.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import cache

import redis.asyncio as aioredis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from supportdesk.redis import get_redis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        try:
            count, seconds = (int(part) for part in text.split("/"))
        except ValueError:
            raise ImproperlyConfigured(f"A rate is '<count>/<seconds>', not {text!r}.") from None
        if count < 1 or seconds < 1:
            raise ImproperlyConfigured(f"A rate needs a count and seconds of at least 1, not {text!r}.")
        return cls(count, seconds)


def _keys(limits: dict[str, Rate], now: float) -> list[tuple[str, Rate, int]]:
    """Each key with its window: the key names the window, so it expires on its own."""
    out = []
    for name, rate in limits.items():
        window = int(now // rate.seconds)
        out.append((f"{settings.REDIS_KEY_PREFIX}:rl:{name}:{rate.seconds}:{window}", rate,
                    (window + 1) * rate.seconds))
    return out


def _verdict(counts: list[int], keys: list[tuple[str, Rate, int]], now: float) -> float:
    """Seconds to wait before trying again: 0 when every count is within its rate."""
    wait = 0.0
    for count, (_, rate, window_end) in zip(counts, keys, strict=True):
        if count > rate.count:
            wait = max(wait, window_end - now)
    return round(wait, 1)


@cache
def _async_client(loop_id: int) -> aioredis.Redis:
    # One client per event loop: a redis.asyncio connection belongs to the loop that made it.
    return aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)


async def hit_async(limits: dict[str, Rate]) -> float:
    """Count a hit against every key; the seconds to wait, or 0 when all are within limits."""
    import asyncio

    now = time.time()
    keys = _keys(limits, now)
    client = _async_client(id(asyncio.get_running_loop()))
    try:
        async with client.pipeline(transaction=False) as pipe:
            for key, rate, _ in keys:
                pipe.incr(key)
                pipe.expire(key, rate.seconds + 1)
            results = await pipe.execute()
    except aioredis.RedisError:
        log.warning("Rate limits unchecked: Redis does not answer", exc_info=True)
        return 0.0
    return _verdict(results[::2], keys, now)


def hit(limits: dict[str, Rate]) -> float:
    """As `hit_async`, from synchronous code (views)."""
    import redis

    now = time.time()
    keys = _keys(limits, now)
    try:
        pipe = get_redis().pipeline(transaction=False)
        for key, rate, _ in keys:
            pipe.incr(key)
            pipe.expire(key, rate.seconds + 1)
        results = pipe.execute()
    except redis.RedisError:
        log.warning("Rate limits unchecked: Redis does not answer", exc_info=True)
        return 0.0
    return _verdict(results[::2], keys, now)


def rate(setting_name: str) -> Rate:
    return Rate.parse(getattr(settings, setting_name))
