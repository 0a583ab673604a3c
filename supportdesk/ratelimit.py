"""Rate limits counted in Redis, shared by every process: fixed windows, one round trip a check.

A rate is written "<count>/<seconds>" in settings ("30/10": thirty per ten seconds). A
check counts one hit against each key and says how long to wait when one is over. A
fixed window lets a burst of twice the count straddle a boundary; for keeping one
visitor or one address from flooding the desk that is close enough, and it costs one
INCR per key instead of a sorted set per key. Views count in Redis at once (`hit`);
websocket frames, far more frequent, count in the process and share the counts with
Redis in the background (`hit_async`).

When Redis does not answer, the check lets the request through (and logs it): the
limits protect the desk, they must not take the chat down with Redis.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from supportdesk.redis import get_redis, redis_key

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
        out.append((redis_key("rl", name, str(rate.seconds), str(window)), rate,
                    (window + 1) * rate.seconds))
    return out


def _verdict(counts: list[int], keys: list[tuple[str, Rate, int]], now: float) -> float:
    """Seconds to wait before trying again: 0 when every count is within its rate."""
    wait = 0.0
    for count, (_, rate, window_end) in zip(counts, keys, strict=True):
        if count > rate.count:
            wait = max(wait, window_end - now)
    return round(wait, 1)


class _SharedCounts:
    """The websocket side's counts: kept in the process, added to Redis in the background.

    A frame is checked against this process's own hits plus what the other processes had
    counted at the last exchange, so the check costs no round trip; every
    `RATE_LIMIT_SYNC_SECONDS` the process adds its new hits to the Redis counters (one
    script call for all its keys) and learns their totals. A visitor on one socket is counted
    exactly; an address spread over several processes may get up to an exchange or two's worth
    of frames past its limit.
    """

    def __init__(self) -> None:
        self.pending: dict[str, tuple[int, int]] = {}  # key -> (hits not yet sent, expiry seconds)
        self.in_flight: dict[str, int] = {}  # hits being added to Redis right now
        self.known: dict[str, int] = {}  # key -> total in Redis at the last exchange (ours included)
        self.task: asyncio.Task | None = None
        self.client: aioredis.Redis | None = None
        self.add_script: Any = None

    def hit(self, limits: dict[str, Rate]) -> float:
        now = time.time()
        keys = _keys(limits, now)
        counts = []
        for key, rate, _ in keys:
            pending = self.pending.get(key, (0, 0))[0] + 1
            self.pending[key] = (pending, rate.seconds + 1)
            counts.append(self.known.get(key, 0) + self.in_flight.get(key, 0) + pending)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._exchange_forever())
        return _verdict(counts, keys, now)

    async def _exchange_forever(self) -> None:
        while self.pending:
            await asyncio.sleep(settings.RATE_LIMIT_SYNC_SECONDS)
            await self.exchange()

    async def exchange(self) -> None:
        """Add this process's new hits to Redis and learn those keys' totals (tests call it
        directly). A key without new hits keeps the total last learnt: whoever else counts on it,
        this process is only asked about it again with its next hit."""
        now = time.time()
        # A key names its window ("...:<seconds>:<window>"): those of windows gone by are dropped.
        self.known = {key: total for key, total in self.known.items()
                      if int(key.rsplit(":", 1)[1]) >= int(now // int(key.rsplit(":", 2)[1]))}
        pending, self.pending = self.pending, {}
        if not pending:
            return
        self.in_flight = {key: hits for key, (hits, _) in pending.items()}
        if self.client is None:
            self.client = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
            self.add_script = self.client.register_script(ADD_SCRIPT)
        keys = list(pending)
        try:
            totals = await self.add_script(keys=keys, args=[value for key in keys for value in pending[key]])
        except aioredis.RedisError:
            log.warning("Rate limits not shared: Redis does not answer", exc_info=True)
            totals = [self.known.get(key, 0) + pending[key][0] for key in keys]  # counted here all the same
        self.known.update(zip(keys, (int(total) for total in totals), strict=True))
        self.in_flight = {}


# Add each key's hits and give its window's expiry to a key just made: one command for
# all of a process's keys, whatever their number.
ADD_SCRIPT = """
local totals = {}
for i, key in ipairs(KEYS) do
  local hits = tonumber(ARGV[2 * i - 1])
  local total = redis.call('INCRBY', key, hits)
  if total == hits then redis.call('EXPIRE', key, ARGV[2 * i]) end
  totals[i] = total
end
return totals
"""


_shared: dict[int, _SharedCounts] = {}


def _counts() -> _SharedCounts:
    # One set of counts per event loop: a redis.asyncio connection belongs to the loop that made it.
    loop_id = id(asyncio.get_running_loop())
    if loop_id not in _shared:
        _shared.clear()  # a process runs one loop; tests start a new one per test
        _shared[loop_id] = _SharedCounts()
    return _shared[loop_id]


async def hit_async(limits: dict[str, Rate]) -> float:
    """Count a hit against every key; the seconds to wait, or 0 when all are within limits.
    For the websocket frames: no round trip (see `_SharedCounts`)."""
    return _counts().hit(limits)


async def exchange() -> None:
    """Share this process's counts with the others now (tests; otherwise every
    RATE_LIMIT_SYNC_SECONDS)."""
    await _counts().exchange()


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
