"""Rate limits: counted in Redis at once for views, in the process and shared through Redis
for websocket frames, so several processes still hold one address to one limit."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured

from supportdesk import ratelimit
from supportdesk.ratelimit import Rate


@pytest.fixture(autouse=True)
def _own_keys(settings):
    settings.REDIS_KEY_PREFIX = f"test-{uuid.uuid4().hex}"


def test_a_view_is_refused_past_its_rate_with_the_time_left_in_the_window():
    limits = {"ip:10.0.0.1": Rate(3, 60)}

    waits = [ratelimit.hit(limits) for _ in range(4)]

    assert waits[:3] == [0, 0, 0]
    assert 0 < waits[3] <= 60


def test_one_process_counts_its_own_frames_at_once():
    async def scenario() -> list[float]:
        return [await ratelimit.hit_async({"visitor:v1": Rate(2, 60)}) for _ in range(3)]

    waits = asyncio.run(scenario())

    assert waits[:2] == [0, 0] and waits[2] > 0


def test_processes_share_their_counts_through_redis():
    # Two processes, each with its own counts, taking frames from the same address
    limits = {"ip:10.0.0.2": Rate(5, 60)}

    async def scenario() -> tuple[list[float], list[float]]:
        first, second = ratelimit._SharedCounts(), ratelimit._SharedCounts()
        waits = [first.hit(limits) for _ in range(3)] + [second.hit(limits) for _ in range(2)]
        await first.exchange()
        await second.exchange()
        # the first process's next frame is its 4th (allowed, as far as it knows) and, once
        # shared, it learns the address has sent 6; the second already knew of 5
        later = [first.hit(limits)]
        await first.exchange()
        later += [first.hit(limits), second.hit(limits)]
        return waits, later

    waits, later = asyncio.run(scenario())

    assert waits == [0, 0, 0, 0, 0]  # each process alone is within the limit
    assert later[0] == 0 and later[1] > 0 and later[2] > 0


@pytest.mark.parametrize("text", ["30", "a/b", "0/10", "10/0", "1/2/3"])
def test_a_bad_rate_in_the_settings_is_named(text):
    with pytest.raises(ImproperlyConfigured, match="rate"):
        Rate.parse(text)
