"""Two desks on one Redis server (same db number, same ids) never see each other's keys,
pub/sub channels, channel-layer groups or Celery tasks: each runs under its REDIS_KEY_PREFIX.

Each desk's settings are loaded from its own environment, as its processes would load them
(tests.deployments), and its channel layer, Celery app, rate limits and OMS drain key are
built from those settings against the real Redis of this run.
"""

from __future__ import annotations

import asyncio
import types
import uuid
from typing import Any
from unittest import mock

import pytest
from celery import Celery
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from kombu import Queue

from integrations import services as oms_services
from supportdesk import ratelimit
from supportdesk.ratelimit import Rate
from supportdesk.redis import get_redis
from tests.deployments import desk_settings


@pytest.fixture
def two_desks() -> tuple[dict[str, Any], dict[str, Any]]:
    """Two deployments that differ only in their prefix: one Redis URL (db included), one Celery
    queue name, one channel-layer backend."""
    run = uuid.uuid4().hex[:8]
    shared = {"DEBUG": "true", "CELERY_TASK_DEFAULT_QUEUE": f"tasks-{run}"}
    return (desk_settings({**shared, "REDIS_KEY_PREFIX": f"desk-a-{run}"}),
            desk_settings({**shared, "REDIS_KEY_PREFIX": f"desk-b-{run}"}))


def _channel_layer(desk: dict[str, Any], backend: str) -> Any:
    # The desk's own configuration (hosts, prefix), with the backend under test.
    return import_string(desk["CHANNEL_LAYER_BACKENDS"][backend])(**desk["CHANNEL_LAYERS"]["default"]["CONFIG"])


@pytest.mark.parametrize("backend", ["pubsub", "core"])
def test_channel_layer_groups_of_two_desks_do_not_cross(two_desks, backend):
    desk_a, desk_b = two_desks
    group = f"conversation-{uuid.uuid4().hex[:8]}"  # the same group name (the same id) in both desks

    async def exchange() -> tuple[list[dict], list[dict]]:
        layer_a, layer_b = _channel_layer(desk_a, backend), _channel_layer(desk_b, backend)
        try:
            channel_a, channel_b = await layer_a.new_channel(), await layer_b.new_channel()
            await layer_a.group_add(group, channel_a)
            await layer_b.group_add(group, channel_b)
            # when each desk sends to the group, then a second message after it
            for step in ("message", "marker"):
                await layer_a.group_send(group, {"type": "probe", "desk": "a", "step": step})
                await layer_b.group_send(group, {"type": "probe", "desk": "b", "step": step})
            # then each channel's next two messages are its own desk's, in order: had the other
            # desk's message reached it, it would come before the marker
            received_a = [await layer_a.receive(channel_a) for _ in range(2)]
            received_b = [await layer_b.receive(channel_b) for _ in range(2)]
            return received_a, received_b
        finally:
            await layer_a.flush()
            await layer_b.flush()

    received_a, received_b = asyncio.run(exchange())

    assert [(message["desk"], message["step"]) for message in received_a] == [("a", "message"), ("a", "marker")]
    assert [(message["desk"], message["step"]) for message in received_b] == [("b", "message"), ("b", "marker")]


def test_the_channel_layer_prefix_is_the_deployments(two_desks):
    desk_a, _ = two_desks

    assert desk_a["CHANNEL_LAYERS"]["default"]["CONFIG"]["prefix"].startswith(f"{desk_a['REDIS_KEY_PREFIX']}:")


def test_rate_limit_counters_of_two_desks_do_not_cross(two_desks, settings):
    desk_a, desk_b = two_desks
    limits = {"ip:203.0.113.7": Rate(count=1, seconds=3600)}  # the same address in both desks

    # given desk A has used up the address's allowance
    settings.REDIS_KEY_PREFIX = desk_a["REDIS_KEY_PREFIX"]
    ratelimit.hit(limits)
    assert ratelimit.hit(limits) > 0

    # then desk B still counts the address from zero
    settings.REDIS_KEY_PREFIX = desk_b["REDIS_KEY_PREFIX"]
    assert ratelimit.hit(limits) == 0


def test_the_oms_drain_window_of_one_desk_does_not_hold_back_the_others(two_desks, settings, monkeypatch):
    desk_a, desk_b = two_desks
    with mock.patch("integrations.tasks.oms_events_drain.apply_async") as enqueue:
        # given desk A opened a drain window
        settings.REDIS_KEY_PREFIX = desk_a["REDIS_KEY_PREFIX"]
        oms_services.oms_drain_request()
        # when an event reaches desk B (another process: no window known in it)
        monkeypatch.setattr(oms_services, "_drain_window_ends", 0.0)
        settings.REDIS_KEY_PREFIX = desk_b["REDIS_KEY_PREFIX"]
        oms_services.oms_drain_request()

    # then desk B asked for its own drain too
    assert enqueue.call_count == 2
    assert get_redis().exists(f"{desk_a['REDIS_KEY_PREFIX']}:integrations:oms:drain-requested")


def _celery_app(desk: dict[str, Any]) -> Celery:
    app = Celery(f"desk-{desk['REDIS_KEY_PREFIX']}", set_as_current=False)
    app.config_from_object(types.SimpleNamespace(**desk), namespace="CELERY")
    return app


def _waiting(app: Celery, queue_name: str) -> int:
    with app.connection_for_read() as connection:
        return Queue(queue_name).bind(connection.default_channel).queue_declare(passive=False).message_count


def test_celery_tasks_of_two_desks_do_not_cross(two_desks):
    desk_a, desk_b = two_desks
    app_a, app_b = _celery_app(desk_a), _celery_app(desk_b)
    queue_name = desk_a["CELERY_TASK_DEFAULT_QUEUE"]
    assert queue_name == desk_b["CELERY_TASK_DEFAULT_QUEUE"]  # the same queue name in both
    try:
        # when desk A sends a task to its default queue
        app_a.send_task("integrations.tasks.oms_events_drain")

        # then it waits in desk A's queue, and desk B's queue of the same name is empty
        assert _waiting(app_a, queue_name) == 1
        assert _waiting(app_b, queue_name) == 0
        assert get_redis().llen(f"{desk_a['REDIS_KEY_PREFIX']}:{queue_name}") == 1
    finally:
        for app in (app_a, app_b):
            with app.connection_for_write() as connection:
                Queue(queue_name).bind(connection.default_channel).purge()


@pytest.mark.parametrize("prefix", ["", "sd:x", "sd*", "desk one", "x" * 65])
def test_a_prefix_that_could_match_another_desks_keys_is_refused(prefix):
    with pytest.raises(ImproperlyConfigured, match="REDIS_KEY_PREFIX"):
        desk_settings({"DEBUG": "true", "REDIS_KEY_PREFIX": prefix})
