"""The live view's durations, shares and loads are put into words in one place (Python), for
the page and for the pushed snapshots alike: live.js writes the words it is given."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.utils import timezone

from conversations import tasks
from routing import services as routing
from routing.models import Presence, Queue, WorkItem
from supportdesk.push import flush
from supportdesk.routing import websocket_urlpatterns
from tests.conversations.test_live import supervisor_make
from tests.factories import AgentProfileFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("private_channel_layer")]


def _waiting_for(seconds: int) -> None:
    item = routing.work_item_enqueue(conversation_id=7, channel="chat",
                                     attributes={"language": "es", "contact_kind": "customer"})
    enqueued = timezone.now() - timedelta(seconds=seconds)
    WorkItem.objects.filter(pk=item.pk).update(enqueued_at=enqueued, queued_at=enqueued)


def test_the_pushed_snapshot_carries_the_words_the_page_shows(client):
    Queue.objects.create(key="general", name="General", target_wait_seconds=60)
    profile = AgentProfileFactory(capacity={"chat": 2}, languages=["fr"])
    routing.presence_set(user=profile.user, presence=Presence.ONLINE)
    _waiting_for(125)
    supervisor = supervisor_make()
    client.force_login(supervisor)
    page = client.get("/desk/live/").content.decode()

    async def pushed():
        watching = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/agent/")
        watching.scope["user"] = supervisor
        assert (await watching.connect())[0]
        await sync_to_async(tasks.supervisor_live_push)()
        await sync_to_async(flush)()
        snapshot = await watching.receive_json_from(timeout=5)
        await watching.disconnect()
        return snapshot

    snapshot = async_to_sync(pushed)()

    [queue] = snapshot["queues"]
    assert queue["target_wait"] == "1m 00s" and re.fullmatch(r"2m \d\ds", queue["longest_wait"])
    assert re.fullmatch(r"\d+ %|—", queue["service_level"])
    [agent] = snapshot["agents"]
    assert agent["load_text"] == "chat 0/2 · task 0/5" and agent["at_capacity"] is False
    for words in (queue["target_wait"], queue["service_level"], agent["load_text"]):
        assert f">{words}<" in page  # the page wrote the same words from the same function
    live_js = (settings.BASE_DIR / "static" / "desk" / "live.js").read_text(encoding="utf-8")
    assert "durationText" not in live_js and "toFixed" not in live_js and "Math.round(share" not in live_js
