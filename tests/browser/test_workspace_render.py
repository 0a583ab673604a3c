"""The workspace and the widget as agents and customers found them, in a real browser: a
message drawn by the server and one pushed live look the same (one clock, in the agent's time
zone, and one name); text typed while a reply is on its way survives its answer; the open
conversation's unread count goes when it is read and answered; the connection state, the
offers and the widget's typing are live regions; on a phone the launcher leaves Send alone."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from conversations import services
from conversations.models import Message, MessageDirection
from tests.browser.desk import assigned_chat, desk_prepare, desk_sign_in
from tests.factories import AgentProfileFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AGENT_TIME_ZONE = "America/Bogota"  # UTC-5 all year: a clock in UTC would read five hours ahead


@pytest.fixture(autouse=True)
def _desk(settings):
    desk_prepare(settings)


def _assigned_chat():
    return assigned_chat(last_name="Ruiz Gómez")  # a full name that is not the first name


def _sign_in(page, asgi_server, profile, path: str) -> None:
    desk_sign_in(page, f"{asgi_server.url}{path}", profile)


@pytest.fixture
def agent_page(browser):
    context = browser.new_context(timezone_id=AGENT_TIME_ZONE, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, errors


def _clock(message: Message) -> str:
    return message.created_at.astimezone(ZoneInfo(AGENT_TIME_ZONE)).strftime("%H:%M")


def test_a_rendered_and_a_pushed_reply_show_one_clock_in_the_agents_zone_and_one_name(asgi_server, agent_page):
    page = agent_page
    profile, conversation, _ = _assigned_chat()
    rendered = services.agent_reply(conversation_id=conversation.pk, user=profile.user, body="Lo miro")
    _sign_in(page, asgi_server, profile, f"/desk/c/{conversation.pk}/")
    replies = page.locator("[data-testid=message][data-direction=out]")
    expect(replies).to_have_count(1)

    pushed = services.agent_reply(conversation_id=conversation.pk, user=profile.user, body="Ya está en camino")

    expect(replies).to_have_count(2)
    first, second = replies.nth(0), replies.nth(1)
    assert first.locator(".author").inner_text() == second.locator(".author").inner_text() == "Marta"
    expect(first.locator("time")).to_have_text(_clock(rendered))
    expect(second.locator("time")).to_have_text(_clock(pushed))
    customer = page.locator("[data-testid=message][data-direction=in] time")
    expect(customer).to_have_text(_clock(Message.objects.get(conversation=conversation, sequence=1)))


def test_text_typed_while_a_reply_is_sending_stays_when_the_reply_is_stored(asgi_server, agent_page):
    page = agent_page
    profile, conversation, _ = _assigned_chat()
    _sign_in(page, asgi_server, profile, f"/desk/c/{conversation.pk}/")
    held = []

    def hold(route) -> None:
        held.append(route)  # answered below, once the agent has typed on

    page.route("**/desk/conversations/*/messages/", hold, times=1)
    composer = page.get_by_test_id("composer")
    composer.fill("Lo miro ahora mismo.")
    page.get_by_test_id("send-button").click()
    for _ in range(300):  # a guard against a hang, not a measure of speed
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the reply never left"

    composer.press("End")
    composer.press_sequentially(" Un momento")  # the agent goes on writing while it is on its way
    held[0].continue_()

    expect(page.locator("[data-testid=message][data-direction=out]")).to_have_count(1)
    expect(composer).to_have_value("Un momento")
    replies = Message.objects.filter(conversation=conversation, direction=MessageDirection.OUTBOUND)
    assert [reply.body for reply in replies] == ["Lo miro ahora mismo."]


def test_the_open_conversation_loses_its_unread_count_once_read_and_answered(asgi_server, agent_page):
    page = agent_page
    profile, conversation, session = _assigned_chat()
    services.visitor_message_send(session=session, body="¿Hay alguien?", conversation_id=conversation.pk)
    _sign_in(page, asgi_server, profile, "/desk/")
    badge = page.locator(f'[data-testid=conversation-entry][data-conversation-id="{conversation.pk}"] '
                         "[data-testid=unread-badge]")
    expect(badge).to_have_attribute("data-unread", "2")

    page.get_by_test_id("conversation-entry").first.click()
    expect(page.locator("[data-testid=message][data-direction=in]")).to_have_count(2)
    expect(badge).to_have_attribute("data-unread", "0")  # read

    page.get_by_test_id("composer").fill("Sí, aquí estoy.")
    page.get_by_test_id("send-button").click()
    expect(page.locator("[data-testid=message][data-direction=out]")).to_have_count(1)
    expect(badge).to_have_attribute("data-unread", "0")  # and answered
    conversation.refresh_from_db()
    assert conversation.agent_read_sequence == conversation.last_message_sequence


def test_the_connection_state_and_the_offers_are_announced(asgi_server, agent_page):
    page = agent_page
    profile = AgentProfileFactory(languages=["es"], contact_kinds=["customer"])
    _sign_in(page, asgi_server, profile, "/desk/")

    state = page.get_by_test_id("socket-state")
    expect(state).to_have_attribute("role", "status")
    expect(state).to_have_attribute("aria-live", "polite")
    expect(page.get_by_role("status").filter(has_text="Connected")).to_have_count(1)
    expect(page.get_by_test_id("offers")).to_have_attribute("aria-live", "polite")


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _overlap(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


def test_on_a_phone_the_launcher_leaves_the_send_button_free_and_typing_is_announced(asgi_server, phone):
    phone.goto(asgi_server.url + "/widget/demo/")
    launcher = phone.get_by_test_id("supportdesk-launcher")
    launcher.click()
    chat = phone.frame_locator("[data-testid=supportdesk-frame]")
    send = chat.get_by_test_id("send-button")
    expect(chat.get_by_test_id("status-line")).to_contain_text("Connected")

    send_box = send.bounding_box()
    assert send_box is not None
    launcher_box = launcher.bounding_box() if launcher.is_visible() else None
    assert launcher_box is None or not _overlap(launcher_box, send_box), (launcher_box, send_box)
    send.click(trial=True)  # nothing on top of it takes the tap

    # The chat's own close button brings the launcher back
    chat.get_by_test_id("chat-close").click()
    expect(launcher).to_be_visible()

    region = chat.get_by_test_id("typing-region")
    expect(region).to_have_attribute("aria-live", "polite")
    expect(region.get_by_test_id("typing-indicator")).to_have_count(1)
