"""A supervisor in a real browser: finds an ongoing chat on the supervisors' page, opens it
(thread and timeline), whispers to its agent, who sees the note live, and takes it over: the
supervisor lands in their workspace with it, and the agent's workspace drops it live."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from conversations import services, widget
from routing import services as routing
from routing.models import Presence, Queue, WorkItem
from tests.factories import AgentProfileFactory, ContactFactory, SupervisorFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _desk(settings):
    settings.REDIS_KEY_PREFIX = f"test-{uuid.uuid4().hex}"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    Queue.objects.create(key="general", name="General")


def _sign_in(page, url: str, username: str) -> None:
    page.goto(url)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_a_supervisor_opens_joins_and_takes_over_a_chat(asgi_server, browser, page):
    # given a chat assigned to Marta, open in her workspace
    marta = AgentProfileFactory(languages=["es"], contact_kinds=["customer"], user__first_name="Marta")
    routing.presence_set(user=marta.user, presence=Presence.ONLINE)
    contact = ContactFactory(preferred_language="es", name="Lucía Pérez")
    conversation = services.conversation_open(contact=contact, channel="chat")
    services.offer_accept(item_id=WorkItem.objects.get(conversation_id=conversation.pk).pk, user=marta.user)
    services.visitor_message_send(session=widget.Session(contact_id=contact.pk), body="Hola, ¿mi pedido?")
    boss = SupervisorFactory(first_name="Sara")
    AgentProfileFactory(user=boss, languages=["es"], contact_kinds=["customer"])
    routing.presence_set(user=boss, presence=Presence.ONLINE)

    _sign_in(page, f"{asgi_server.url}/desk/c/{conversation.pk}/", marta.user.username)
    expect(page.get_by_test_id("socket-state")).to_have_attribute("data-state", "open")
    expect(page.get_by_test_id("conversation-entry")).to_have_count(1)

    supervisor_context = browser.new_context()
    try:
        sup = supervisor_context.new_page()
        sup.set_default_timeout(15_000)
        # when the supervisor finds it on the ongoing conversations page and opens it
        _sign_in(sup, f"{asgi_server.url}/desk/supervise/", boss.username)
        row = sup.locator(f"[data-testid=ongoing-row][data-conversation='{conversation.pk}']")
        expect(row).to_contain_text("Lucía Pérez")
        expect(row).to_contain_text("Marta")
        row.get_by_test_id("ongoing-open").click()
        expect(sup.get_by_test_id("messages")).to_contain_text("Hola, ¿mi pedido?")
        expect(sup.get_by_test_id("supervise-timeline").get_by_test_id("timeline-event").first).to_be_visible()

        # and whispers to Marta: she sees the note live, marked internal
        sup.get_by_test_id("whisper-body").fill("Offer her a coupon")
        sup.get_by_test_id("whisper-send").click()
        expect(sup.get_by_test_id("messages")).to_contain_text("Offer her a coupon")
        note = page.locator("[data-testid=message][data-direction=note]")
        expect(note).to_contain_text("Offer her a coupon")

        # and takes it over: the supervisor's workspace opens it, Marta's drops it
        sup.get_by_test_id("take-over").click()
        sup.wait_for_url(f"**/desk/c/{conversation.pk}/")
        expect(sup.get_by_test_id("conversation-entry")).to_have_count(1)
        expect(page.get_by_test_id("conversation-entry")).to_have_count(0)
    finally:
        supervisor_context.close()

    item = WorkItem.objects.get(conversation_id=conversation.pk, state="assigned")
    assert item.agent.user_id == boss.pk


def test_a_customer_whose_chat_is_declined_sees_they_are_waiting(asgi_server, browser, page):
    # given the only agent who speaks Spanish, online in the workspace
    marta = AgentProfileFactory(languages=["es"], contact_kinds=["customer"], user__first_name="Marta")
    _sign_in(page, f"{asgi_server.url}/desk/", marta.user.username)
    expect(page.get_by_test_id("socket-state")).to_have_attribute("data-state", "open")
    page.select_option("[data-testid=presence-toggle]", "online")
    expect(page.locator("form#presence.presence-online")).to_have_count(1)

    customer_context = browser.new_context()
    try:
        visitor = customer_context.new_page()
        visitor.set_default_timeout(15_000)
        errors: list[str] = []
        visitor.on("pageerror", lambda error: errors.append(str(error)))
        visitor.goto(asgi_server.url + "/widget/demo/")
        visitor.get_by_test_id("supportdesk-launcher").click()
        chat = visitor.frame_locator("[data-testid=supportdesk-frame]")
        expect(chat.get_by_test_id("status-line")).to_contain_text("Connected")
        chat.get_by_test_id("composer").fill("Hola, ¿dónde está mi pedido?")
        chat.get_by_test_id("send-button").click()

        # when Marta declines the offer and nobody else can take it
        page.get_by_test_id("offer-decline").click()
        expect(page.get_by_test_id("no-offers")).to_be_visible()

        # then the customer is told, after their message, that they are in the queue
        notice = chat.get_by_test_id("chat-notice")
        expect(notice).to_have_count(1)
        expect(notice).to_contain_text("Estás en la cola")  # in the chat's language (Spanish)
        assert chat.locator("[data-testid=message], [data-testid=chat-notice]").evaluate_all(
            "els => els.map(e => e.dataset.testid)") == ["message", "chat-notice"]
        assert not errors, errors
    finally:
        customer_context.close()
