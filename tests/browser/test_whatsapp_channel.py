"""A WhatsApp conversation end to end in a real browser: the provider posts a customer's message
to the desk's webhook, it reaches an agent who speaks its language, the workspace says the
24-hour window is open, the agent's reply goes through the fake provider, and the provider's
status reports (sent, delivered, read) come back to the webhook and show live."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from conversations.models import Conversation
from integrations.whatsapp.fake_server import FakeWhatsAppServer, inbound_payload, signed_post
from tests.browser.desk import agent_online, desk_prepare
from tests.conftest import free_port
from tests.factories import AgentProfileFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WEBHOOK = "/integrations/whatsapp/webhook/"


def test_a_whatsapp_message_is_answered_from_the_workspace_and_read_back(asgi_server, page, settings):
    desk_prepare(settings)
    provider = FakeWhatsAppServer(port=free_port(), app_secret=settings.WHATSAPP_APP_SECRET, report_delay=0.2,
                                  webhook_url=asgi_server.url + WEBHOOK)
    provider.start()
    settings.WHATSAPP_API_URL = provider.url
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        profile = AgentProfileFactory(languages=["es"], contact_kinds=["customer"], user__first_name="Marta")
        agent_online(page, asgi_server.url, profile)

        status = signed_post(asgi_server.url + WEBHOOK, inbound_payload(
            sender="34600111222", name="Lucía", text="Hola, mi pedido lleva 40 minutos de retraso."),
            secret=settings.WHATSAPP_APP_SECRET)
        assert status == 200
        offer = page.get_by_test_id("offer")
        expect(offer).to_have_count(1)
        conversation = Conversation.objects.get()
        assert (conversation.channel, conversation.language, conversation.contact.phone) == (
            "messaging", "es", "+34600111222")
        offer.get_by_test_id("offer-accept").click()
        expect(page.locator("[data-testid=message][data-direction=in]")).to_contain_text("40 minutos")
        expect(page.get_by_test_id("channel-hint")).to_contain_text("Within the 24-hour window")

        page.get_by_test_id("composer").fill("Hola Lucía, el repartidor llega en 5 minutos.")
        page.keyboard.press("Control+Enter")
        reply = page.locator("[data-testid=message][data-direction=out]")
        expect(reply.first.get_by_test_id("delivery")).to_have_attribute("data-state", "read")
        assert provider.state.sent[-1]["text"]["body"] == "Hola Lucía, el repartidor llega en 5 minutos."

        # The contact's timeline has the WhatsApp conversation and the agent who took it.
        page.goto(f"{asgi_server.url}/desk/contacts/{conversation.contact_id}/")
        timeline = page.get_by_test_id("timeline")
        expect(timeline.locator("[data-testid=timeline-event][data-kind='conversation.opened']")).to_contain_text(
            "messaging")
        expect(timeline.locator("[data-testid=timeline-event][data-kind='conversation.assigned']")).to_contain_text(
            "Marta")
        assert errors == []
    finally:
        provider.stop()
