"""Offers and assignment changes reach the agent's websocket group after commit, through
the real Redis channel layer, and a rolled-back write pushes nothing."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels_redis.core import RedisChannelLayer
from django.db import transaction

from routing import push, services
from routing.models import Presence, Queue
from tests.factories import AgentProfileFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def layer(settings):
    """The Redis "core" layer under a prefix of this test's own, whatever the desk is set to:
    its groups hold plain channel names, so a listener here can read what the push sender
    (on its own thread and event loop) sends. The consumer tests cover the configured layer."""
    from channels.layers import get_channel_layer

    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [settings.REDIS_URL], "prefix": f"test-{uuid.uuid4().hex[:8]}"},
    }}
    return get_channel_layer()


def _listen(layer, group: str) -> str:
    # A plain channel name (not new_channel's process-specific one), so a listener in
    # another event loop can read it.
    channel = f"listener.{uuid.uuid4().hex}"
    async_to_sync(layer.group_add)(group, channel)
    return channel


def _received(layer, channel: str) -> list[dict]:
    push.flush()

    async def drain() -> list[dict]:
        # A layer of its own: channels_redis binds its receive buffers to one event loop.
        listener = RedisChannelLayer(**layer_config(layer))
        # Connected before the wait below starts, so on a busy machine the connection's set-up
        # is not taken for a message that never came.
        await listener.connection(listener.consistent_hash(channel)).ping()
        messages = []
        while True:
            try:
                messages.append(await asyncio.wait_for(listener.receive(channel), timeout=0.5))
            except TimeoutError:
                return messages
    return async_to_sync(drain)()


def layer_config(layer) -> dict:
    return {"hosts": layer.hosts, "prefix": layer.prefix}


def _online_agent():
    profile = AgentProfileFactory(languages=["es"], contact_kinds=["customer"])
    return services.presence_set(user=profile.user, presence=Presence.ONLINE)


def test_an_offer_is_pushed_to_the_agent_after_commit(layer, django_capture_on_commit_callbacks):
    Queue.objects.create(key="general", name="General", offer_timeout_seconds=30)
    agent = _online_agent()
    channel = _listen(layer, push.agent_group(agent.user_id))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        item = services.work_item_enqueue(conversation_id=7, channel="chat",
                                          attributes={"language": "es"})
        assert _received(layer, channel) == []  # nothing before commit
    for callback in callbacks:
        callback()

    [message] = _received(layer, channel)
    assert message["type"] == "routing.item" and message["event"] == "offered"
    assert message["item_id"] == item.pk and message["conversation_id"] == 7
    assert message["offer_expires_at"] is not None and message["queue"] == "general"


def test_accept_decline_and_offline_are_pushed(layer, django_capture_on_commit_callbacks):
    Queue.objects.create(key="general", name="General")
    agent = _online_agent()
    channel = _listen(layer, push.agent_group(agent.user_id))

    with django_capture_on_commit_callbacks(execute=True):
        item = services.work_item_enqueue(conversation_id=8, channel="chat", attributes={"language": "es"})
    with django_capture_on_commit_callbacks(execute=True):
        services.offer_accept(item_id=item.pk, user=agent.user)
    with django_capture_on_commit_callbacks(execute=True):
        services.presence_set(user=agent.user, presence=Presence.OFFLINE)

    events = [(m["type"], m["event"]) for m in _received(layer, channel)]
    assert events == [("routing.item", "offered"), ("routing.item", "accepted"),
                      ("routing.presence", "presence"), ("routing.item", "requeued")]


def test_a_rolled_back_write_pushes_nothing(layer, django_capture_on_commit_callbacks):
    Queue.objects.create(key="general", name="General")
    agent = _online_agent()
    channel = _listen(layer, push.agent_group(agent.user_id))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.work_item_enqueue(conversation_id=9, channel="chat", attributes={"language": "es"})
            raise RuntimeError("the caller's transaction fails after the offer")

    assert callbacks == [] and _received(layer, channel) == []


def test_a_push_that_cannot_reach_redis_does_not_fail_the_write(settings, caplog,
                                                              django_capture_on_commit_callbacks):
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
    }}
    with django_capture_on_commit_callbacks(execute=True):
        push.send_on_commit(push.agent_group(1), {"type": "routing.item", "event": "offered"})
        push.send_on_commit(push.agent_group(1), {"type": "routing.item", "event": "accepted"})
    push.flush(timeout=30)

    assert "Could not push offered" in caplog.text and "Could not push accepted" in caplog.text
