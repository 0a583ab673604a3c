"""The agent workspace in a real browser notices what its socket never got: a customer message
whose push was lost (stored, nobody told) shows up without reopening the conversation, found by
the gap in the sequence numbers, by the once-a-minute resync, or by the sync on reconnect; and
a reply whose answer never reached the browser, sent again, is stored and shown once."""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django.db.models import F
from playwright.sync_api import expect

from conversations import services
from conversations.models import Conversation, Message, MessageDirection
from tests.browser.desk import PASSWORD, assigned_chat, desk_prepare

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _desk(settings):
    desk_prepare(settings)


def _stored_unpushed(conversation: Conversation, body: str) -> None:
    """A customer message stored and never pushed: what a Redis blip does to a push."""
    with transaction.atomic():
        Conversation.objects.filter(pk=conversation.pk).update(
            last_message_sequence=F("last_message_sequence") + 1)
        sequence = Conversation.objects.values_list("last_message_sequence", flat=True).get(pk=conversation.pk)
        Message.objects.create(conversation=conversation, sequence=sequence, direction=MessageDirection.INBOUND,
                               body=body)


def _shown(page) -> list[list]:
    return page.locator("[data-testid=message]").evaluate_all(
        "els => els.map(e => [Number(e.dataset.sequence), e.querySelector('.body').textContent])")


def _stored(conversation: Conversation) -> list[list]:
    return [list(row) for row in Message.objects.filter(conversation=conversation)
            .order_by("sequence").values_list("sequence", "body")]


def _signed_in_on(page, asgi_server, profile, conversation, *, before_connect=None) -> tuple[list[dict], list]:
    """The agent opens the conversation. The frames their socket receives are recorded, and the
    socket goes through a proxy the test may cut: [page side, server side] per connection;
    `before_connect(n)` runs before the n-th connection reaches the server."""
    frames: list[dict] = []
    connections: list = []

    def proxy(route) -> None:
        if before_connect is not None:
            before_connect(len(connections))
        server = route.connect_to_server()
        connections.append([route, server])

    page.route_web_socket("**/ws/agent/", proxy)
    page.on("websocket", lambda socket: socket.on(
        "framereceived", lambda payload: frames.append(json.loads(payload))))
    page.goto(f"{asgi_server.url}/desk/c/{conversation.pk}/")
    page.fill("input[name=username]", profile.user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_test_id("socket-state")).to_have_attribute("data-state", "open")
    return frames, connections


def _until(page, condition) -> None:
    """Let the page run until `condition` holds (Playwright fills recorded frames meanwhile)."""
    for _ in range(300):  # a guard against a hang, not a measure of speed
        if condition():
            return
        page.wait_for_timeout(50)
    raise AssertionError("the page never got there")


def _syncs_answered(frames: list[dict]) -> int:
    return sum(1 for frame in frames if frame.get("type") == "synced")


def test_lost_pushes_show_up_by_the_gap_the_minute_resync_and_the_reconnect(asgi_server, page):
    profile, conversation, session = assigned_chat()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.clock.install()  # time runs as usual, and the test may jump it forward

    def while_the_socket_is_down(connection_number: int) -> None:
        if connection_number == 1:  # the reconnect, after the drop below
            services.visitor_message_send(session=session, body="¿Hola?", conversation_id=conversation.pk)

    frames, connections = _signed_in_on(page, asgi_server, profile, conversation,
                                        before_connect=while_the_socket_is_down)
    expect(page.get_by_test_id("message")).to_have_count(1)
    _until(page, lambda: _syncs_answered(frames) >= 1)  # the opening sync is done before anything is lost

    # A gap: the push of one message is lost, the next one's arrives
    _stored_unpushed(conversation, "¿Alguien me lee?")
    services.visitor_message_send(session=session, body="Sigo aquí", conversation_id=conversation.pk)
    expect(page.get_by_test_id("message")).to_have_count(3)
    assert _shown(page) == _stored(conversation)

    # No later message reveals the loss: the once-a-minute resync finds it
    _stored_unpushed(conversation, "Es urgente")
    page.clock.fast_forward("01:01")
    expect(page.get_by_test_id("message")).to_have_count(4)
    assert _shown(page) == _stored(conversation)

    # The connection drops; what is written before it is back comes with the reconnect
    for side in connections[0]:
        side.close(code=4000, reason="cut")
    expect(page.get_by_test_id("message")).to_have_count(5)
    assert len(connections) == 2
    assert _shown(page) == _stored(conversation)
    assert not errors, errors


def test_a_reply_whose_answer_was_lost_is_stored_once_when_sent_again(asgi_server, page):
    profile, conversation, _ = assigned_chat()
    _signed_in_on(page, asgi_server, profile, conversation)
    answers_lost = []

    def reaches_the_server_but_not_back(route) -> None:
        answers_lost.append(route.fetch().status)  # the server stores the reply ...
        route.abort("timedout")  # ... and the browser never hears so

    page.route("**/desk/conversations/*/messages/", reaches_the_server_but_not_back, times=1)
    page.get_by_test_id("composer").fill("Lo miro ahora mismo")
    page.get_by_test_id("send-button").click()
    expect(page.get_by_test_id("desk-error")).to_contain_text("try again")
    expect(page.get_by_test_id("composer")).to_have_value("Lo miro ahora mismo")  # kept for the retry

    page.get_by_test_id("send-button").click()

    expect(page.get_by_test_id("composer")).to_have_value("")
    assert answers_lost == [201]
    replies = Message.objects.filter(conversation=conversation, direction=MessageDirection.OUTBOUND)
    assert [reply.body for reply in replies] == ["Lo miro ahora mismo"]
    expect(page.locator("[data-testid=message][data-direction=out]")).to_have_count(1)
    assert _shown(page) == _stored(conversation)
