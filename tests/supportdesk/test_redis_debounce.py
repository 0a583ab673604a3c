"""supportdesk.redis.debounced: one enqueue per window across processes, none lost when Redis is away."""

from __future__ import annotations

import uuid

import pytest

from supportdesk import redis as desk_redis


@pytest.fixture
def name(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.REDIS_KEY_PREFIX = f"test-{uuid.uuid4().hex}"
    desk_redis._windows_end.clear()
    return "bench-drain"


def test_a_burst_asks_once_and_after_the_window_again(name, monkeypatch):
    asked: list[float] = []
    for _ in range(50):
        desk_redis.debounced(name, asked.append, window_ms=200)
    assert asked == [0.25]  # run once the window has closed, so it sees the whole burst

    desk_redis._windows_end.clear()  # another process: Redis still holds the window
    desk_redis.debounced(name, asked.append, window_ms=200)
    assert asked == [0.25]

    desk_redis.get_redis().delete(desk_redis.redis_key("debounce", name))  # the window closed
    desk_redis._windows_end.clear()
    desk_redis.debounced(name, asked.append, window_ms=200)
    assert asked == [0.25, 0.25]


def test_with_eager_tasks_every_request_runs(name, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    asked: list[float] = []
    for _ in range(3):
        desk_redis.debounced(name, asked.append)
    assert asked == [0.0, 0.0, 0.0]


def test_redis_away_is_logged_not_raised(name, monkeypatch):
    def unreachable():
        raise ConnectionError("Redis is down")

    warnings: list[str] = []
    monkeypatch.setattr(desk_redis, "get_redis", unreachable)
    # The module's logger itself (other tests may have changed where log records go).
    monkeypatch.setattr(desk_redis.log, "warning",
                        lambda message, *args, **kwargs: warnings.append(message % args))
    asked: list[float] = []
    desk_redis.debounced(name, asked.append)
    assert asked == [] and warnings == ["Could not ask for bench-drain now; beat's drain will run it"]
