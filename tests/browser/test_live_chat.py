"""A whole conversation in two real browsers: a customer in the chat widget on the demo host
page and an agent in the workspace, over the real ASGI server, websockets and the Redis
channel layer. Routing runs its task eagerly (the Celery worker path has its own test)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from conversations.models import ContactReason, Conversation, Macro, Message
from routing.models import ItemState, Queue, WorkItem
from tests.factories import AgentProfileFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
PAYLOAD = "<script>window.pwned=1</script><img src=x onerror=window.pwned=2>¿Dónde está mi pedido?"


@pytest.fixture(autouse=True)
def _desk(settings):
    settings.REDIS_KEY_PREFIX = f"test-{uuid.uuid4().hex}"  # rate-limit counters of this test only
    settings.CELERY_TASK_ALWAYS_EAGER = True
    Queue.objects.create(key="general", name="General")
    ContactReason.objects.create(key="late_order", label="Late order")
    Macro.objects.create(shortcut="hola", language="es", title="Saludo",
                         body="Hola, soy {{ agent.first_name }}. Lo miro ahora mismo.")


def _context(browser) -> Iterator[tuple[BrowserContext, Page, list[str]]]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield context, page, errors
    context.close()


@pytest.fixture
def customer(browser):
    yield from _context(browser)


@pytest.fixture
def agent(browser):
    yield from _context(browser)


def test_a_customer_and_an_agent_hold_a_whole_conversation(asgi_server, customer, agent):
    customer_context, visitor, visitor_errors = customer
    _, desk, desk_errors = agent
    profile = AgentProfileFactory(languages=["es"], contact_kinds=["customer"], user__first_name="Marta")

    # The agent signs in and goes online
    desk.goto(asgi_server.url + "/desk/")
    desk.fill("input[name=username]", profile.user.username)
    desk.fill("input[name=password]", PASSWORD)
    desk.click("button[type=submit]")
    desk.wait_for_url(asgi_server.url + "/desk/")
    expect(desk.get_by_test_id("socket-state")).to_have_attribute("data-state", "open")
    desk.select_option("[data-testid=presence-toggle]", "online")
    expect(desk.locator("form#presence.presence-online")).to_have_count(1)

    # An anonymous customer writes on the shop's page, HTML and all
    visitor.goto(asgi_server.url + "/widget/demo/")
    visitor.get_by_test_id("supportdesk-launcher").click()
    chat = visitor.frame_locator("[data-testid=supportdesk-frame]")
    expect(chat.get_by_test_id("status-line")).to_contain_text("Connected")
    chat.get_by_test_id("composer").fill(PAYLOAD)
    chat.get_by_test_id("send-button").click()
    mine = chat.locator("[data-testid=message][data-direction=in]").first
    expect(mine).to_have_attribute("data-state", "sent")
    conversation = Conversation.objects.get()
    assert conversation.language == "es"  # detected from the message, then routed by it

    # The offer reaches the agent live, with a countdown; the agent accepts
    offer = desk.get_by_test_id("offer")
    expect(offer).to_have_count(1)
    expect(desk.get_by_test_id("offer-countdown")).to_have_text(re.compile(r"\d+s"))
    offer.get_by_test_id("offer-accept").click()
    expect(desk.get_by_test_id("conversation")).to_have_attribute("data-conversation-id", str(conversation.pk))
    incoming = desk.locator("[data-testid=message][data-direction=in]")
    expect(incoming).to_have_count(1)
    assert incoming.inner_text().endswith(PAYLOAD)  # shown as text
    expect(chat.get_by_test_id("chat-agent")).to_contain_text("Marta")
    # beside the chat, the contact's timeline: the conversation they just opened, linked
    expect(desk.get_by_test_id("timeline-panel").locator(
        f'[data-testid=event-link][href="/desk/c/{conversation.pk}/"]').first).to_be_visible()

    # The customer types; the agent sees it. The agent answers with a macro
    chat.get_by_test_id("composer").press_sequentially("Un mom")
    expect(desk.get_by_test_id("typing-indicator")).to_be_visible()
    composer = desk.get_by_test_id("composer")
    composer.click()
    composer.press_sequentially("#hola ")
    expect(composer).to_have_value("Hola, soy Marta. Lo miro ahora mismo.")
    desk.keyboard.press("Control+Enter")
    reply = chat.locator("[data-testid=message][data-direction=out]")
    expect(reply).to_have_count(1)
    expect(reply).to_contain_text("Hola, soy Marta. Lo miro ahora mismo.")
    expect(mine).to_have_attribute("data-state", "seen")

    # The customer's network drops: they write, the agent writes twice; then it comes back
    customer_context.set_offline(True)
    expect(chat.get_by_test_id("status-line")).to_contain_text("Offline")
    chat.get_by_test_id("composer").fill("Sigo aquí")
    chat.get_by_test_id("composer").press("Enter")
    for text in ("El repartidor está cerca.", "Llegará en 5 minutos."):
        composer.fill(text)
        desk.keyboard.press("Control+Enter")
        expect(desk.locator("[data-testid=message][data-direction=out]").last).to_contain_text(text)
    customer_context.set_offline(False)

    # Nothing lost, nothing twice, in order, on both sides
    expect(chat.locator("[data-testid=message]")).to_have_count(5)
    expect(desk.locator("[data-testid=message]")).to_have_count(5)
    stored = list(Message.objects.filter(conversation=conversation).order_by("sequence")
                  .values_list("sequence", "direction"))
    assert [sequence for sequence, _ in stored] == [1, 2, 3, 4, 5]
    for page_messages in (chat.locator("[data-testid=message]"), desk.locator("[data-testid=message]")):
        shown = page_messages.evaluate_all(
            "els => els.map(e => [Number(e.dataset.sequence), e.dataset.direction])")
        assert [tuple(pair) for pair in shown] == stored

    # The agent resolves with a contact reason; the customer is told
    desk.select_option("[data-testid=resolve-form] select", "late_order")
    desk.get_by_test_id("resolve-form").locator("button[type=submit]").click()
    expect(chat.get_by_test_id("chat-notice")).to_contain_text("resolved")
    conversation.refresh_from_db()
    assert (conversation.status, conversation.contact_reason) == ("resolved", "late_order")
    assert WorkItem.objects.get(conversation_id=conversation.pk).state == ItemState.COMPLETED

    # The payload ran nowhere
    assert visitor.evaluate("window.pwned") is None and desk.evaluate("window.pwned") is None
    assert chat.locator("img, script:not([src])").count() == 0
    assert not visitor_errors and not desk_errors, visitor_errors + desk_errors
