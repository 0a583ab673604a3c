"""The supervisors' live view in a real browser: the first snapshot the page renders and the
ones pushed after it show the same words for the same figures (formatted once, in Python), today's
satisfaction per queue and time in each presence per agent among them, the snapshot's time in the
supervisor's time zone, and the connection state as a live region."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conversations import tasks
from conversations.models import Conversation
from routing import services as routing
from routing.models import Presence, Queue, WorkItem
from tests.browser.desk import PASSWORD, desk_prepare
from tests.conversations.test_live import supervisor_make
from tests.factories import AgentProfileFactory, ConversationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TIME_ZONE = "Asia/Kolkata"  # UTC+5:30: no clock in UTC reads the same


@pytest.fixture(autouse=True)
def _desk(settings):
    desk_prepare(settings)


def _local_clock(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(TIME_ZONE)).strftime("%H:%M:%S")


def _cells(page) -> list[list[str]]:
    return page.locator("[data-testid=live-queue-row]").evaluate_all(
        "rows => rows.map(row => Array.from(row.cells, cell => cell.textContent.trim()))")


def test_the_rendered_and_the_pushed_snapshot_read_the_same(asgi_server, browser):
    Queue.objects.filter(key="general").update(target_wait_seconds=90)
    item = routing.work_item_enqueue(conversation_id=11, channel="chat",
                                     attributes={"language": "fi", "contact_kind": "customer"})
    # Half a minute into "2h 03m": the page and the push, seconds apart, both fall inside it.
    enqueued = timezone.now() - timedelta(hours=2, minutes=3, seconds=30)
    WorkItem.objects.filter(pk=item.pk).update(enqueued_at=enqueued, queued_at=enqueued)
    # a conversation of the queue rated 5 today, and an agent online (speaking none of its languages)
    rated = ConversationFactory()
    routing.work_item_enqueue(conversation_id=rated.pk, channel="chat",
                              attributes={"language": "fi", "contact_kind": "customer"})
    routing.work_item_complete(conversation_id=rated.pk)
    Conversation.objects.filter(pk=rated.pk).update(rating=5, rated_at=timezone.now())
    agent = AgentProfileFactory(languages=["de"], contact_kinds=["customer"])
    routing.presence_set(user=agent.user, presence=Presence.ONLINE)
    supervisor = supervisor_make()
    context = browser.new_context(timezone_id=TIME_ZONE, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{asgi_server.url}/desk/live/")
    page.fill("input[name=username]", supervisor.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    status = page.get_by_test_id("live-status")
    expect(status).to_have_attribute("data-state", "live")
    expect(status).to_have_attribute("aria-live", "polite")
    rendered = _cells(page)
    [general] = rendered
    assert general[2].startswith("2h 0") and general[3] == "1m 30s"  # longest wait, target
    expect(page.get_by_role("columnheader", name="Satisfaction today")).to_be_visible()
    assert general[11] == "100 % (1)"  # satisfaction today, and how many rated

    at = page.get_by_test_id("live-at")
    expect(at).to_have_text(_local_clock(at.get_attribute("datetime")))  # the first paint too

    # The socket may be open a moment before it has joined the supervisors' group: beat pushes
    # every couple of seconds, and so does this, until one has arrived.
    first_at = at.get_attribute("datetime")
    for _ in range(150):  # a guard against a hang, not a measure of speed
        tasks.supervisor_live_push()
        page.wait_for_timeout(100)
        if at.get_attribute("datetime") != first_at:
            break
    assert at.get_attribute("datetime") != first_at, "no snapshot was pushed to the page"

    assert _cells(page) == rendered
    expect(at).to_have_text(_local_clock(at.get_attribute("datetime")))
    # the agent's row as live.js drew it: the presence in words, then time today in each presence
    agent_row = page.get_by_test_id("live-agent-row")
    expect(agent_row.locator(".presence")).to_have_text("Online")
    spent = agent_row.get_by_test_id("agent-presence-today").all_text_contents()
    assert len(spent) == 3 and all(re.fullmatch(r"\d+s|\d+m \d\ds", text) for text in spent), spent
    context.close()
    assert not errors, errors
