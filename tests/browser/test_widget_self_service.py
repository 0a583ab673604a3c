"""The widget's self-service in real Chromium: a Spanish-speaking customer, signed in by the host
site, sees their order in Spanish before any chat, asks "¿dónde está mi pedido?" and reads its
status in Spanish with no chat opened and no agent offered anything; one click then takes them
to an agent, in a chat that carries the order."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from conversations.models import Conversation
from routing.models import Presence, Queue, WorkItem
from tests.factories import AgentProfileFactory, ContactFactory, CourierFactory, OrderFactory
from timeline.models import OrderStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _desk(settings):
    settings.REDIS_KEY_PREFIX = f"test-{uuid.uuid4().hex}"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.DEBUG = True  # the demo shop signs a chosen contact's identity in development only
    Queue.objects.create(key="general", name="General")


def test_a_spanish_customer_gets_their_orders_status_without_an_agent(asgi_server, browser):
    from conversations.intents.model import trained

    trained()  # the intent model is trained on a process's first use: here, not while the page waits
    # an agent is online: had a chat been opened, it would have been offered to them
    AgentProfileFactory(presence=Presence.ONLINE, languages=["es"])
    customer = ContactFactory(name="Ana", preferred_language="es")
    OrderFactory(customer=customer, external_id="O-ES-1", status=OrderStatus.IN_DELIVERY,
                 courier=CourierFactory(name="Marta"))

    context = browser.new_context(locale="en-US")  # the contact's language wins over the browser's
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{asgi_server.url}/widget/demo/?as={customer.pk}")
        page.get_by_test_id("supportdesk-launcher").click()
        chat = page.frame_locator("[data-testid=supportdesk-frame]")

        # before a chat: the recent orders, in Spanish
        expect(chat.get_by_test_id("self-service-title")).to_have_text("Tus pedidos recientes")
        expect(chat.get_by_test_id("order-head")).to_have_text("O-ES-1 · En camino")
        expect(chat.get_by_test_id("order-card")).to_contain_text("Marta te lo está llevando.")

        chat.get_by_test_id("composer").fill("¿dónde está mi pedido?")
        chat.get_by_test_id("send-button").click()

        answer = chat.get_by_test_id("self-service-answer")
        expect(answer).to_have_attribute("data-outcome", "answered")
        expect(answer.get_by_test_id("answer-question")).to_have_text("¿dónde está mi pedido?")
        expect(answer.get_by_test_id("answer-line").first).to_have_text("Pedido O-ES-1: En camino.")
        expect(answer.get_by_test_id("talk-to-agent")).to_have_text("Hablar con un agente")
        expect(chat.get_by_test_id("message")).to_have_count(0)  # nothing went to a chat
        assert not Conversation.objects.exists()
        assert not WorkItem.objects.exists()

        # one click to an agent: a chat with their question, carrying the order
        answer.get_by_test_id("talk-to-agent").click()
        mine = chat.locator("[data-testid=message][data-direction=in]")
        expect(mine).to_have_count(1)
        expect(mine.locator(".msg-body")).to_have_text("¿dónde está mi pedido?")
        expect(chat.get_by_test_id("chat-end")).to_be_visible()
        conversation = Conversation.objects.get()
        assert conversation.order.external_id == "O-ES-1"
        assert not errors, errors
    finally:
        context.close()
