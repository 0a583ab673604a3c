"""An email conversation end to end in a real browser: a customer's email reaches the desk's
inbound SMTP server, is routed to an agent who speaks its language, answered from the
workspace (the reply's delivery state shown live), the reply arrives at the SMTP sink
threaded, and the customer's answer to it lands in the same conversation, live."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from playwright.sync_api import expect

from conversations.models import Conversation
from integrations.email_threads import reply_address
from integrations.models import MailboxMessage
from integrations.smtp_inbound import inbound_controller
from tests.browser.desk import agent_online, desk_prepare
from tests.conftest import free_port
from tests.factories import AgentProfileFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _send(port: int, *, to: str, subject: str, body: str, in_reply_to: str = "") -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "Lucía Gómez <lucia@example.com>", to, subject
    message["Message-ID"] = make_msgid(domain="example.com")
    if in_reply_to:
        message["In-Reply-To"] = message["References"] = in_reply_to
    message.set_content(body)
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.send_message(message)


def test_an_email_is_answered_from_the_workspace_and_the_answer_threads_back(asgi_server, page, settings,
                                                                             smtp_sink):
    desk_prepare(settings)
    port = free_port()
    inbound = inbound_controller(host="127.0.0.1", port=port)
    inbound.start()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        profile = AgentProfileFactory(languages=["es"], contact_kinds=["customer"], user__first_name="Marta")
        agent_online(page, asgi_server.url, profile)

        # The customer writes to support@, in Spanish
        _send(port, to=f"support@{settings.EMAIL_INBOUND_DOMAIN}", subject="Mi pedido no ha llegado",
              body="Hola, mi pedido 123 todavía no ha llegado. ¿Dónde está?")
        offer = page.get_by_test_id("offer")
        expect(offer).to_have_count(1)
        conversation = Conversation.objects.get()
        assert (conversation.channel, conversation.language) == ("email", "es")
        offer.get_by_test_id("offer-accept").click()
        expect(page.get_by_test_id("conversation")).to_have_attribute("data-conversation-id", str(conversation.pk))
        expect(page.locator("[data-testid=message][data-direction=in]")).to_contain_text("mi pedido 123")

        # The agent answers; the reply leaves by email and says so
        page.get_by_test_id("composer").fill("Hola Lucía, su pedido llega en 10 minutos.")
        page.keyboard.press("Control+Enter")
        reply = page.locator("[data-testid=message][data-direction=out]")
        expect(reply.first.get_by_test_id("delivery")).to_have_attribute("data-state", "sent")
        expect(reply).to_have_count(1)  # drawn once, whether the push or the send's answer came first
        sent = MailboxMessage.objects.get()
        assert sent.recipients == "lucia@example.com" and sent.subject == "Re: Mi pedido no ha llegado"
        assert "su pedido llega en 10 minutos" in sent.body

        # The customer answers the email, at its reply address: the same conversation, live
        _send(port, to=reply_address(conversation.pk), subject="Re: Mi pedido no ha llegado",
              body="¡Gracias!\n\nEl lun, 1 dic 2026, Soporte escribió:\n> Hola Lucía, llega en 10 minutos.",
              in_reply_to=sent.message_id)
        incoming = page.locator("[data-testid=message][data-direction=in]")
        expect(incoming).to_have_count(2)
        expect(incoming.last.locator(".body")).to_have_text("¡Gracias!")
        assert Conversation.objects.count() == 1

        # The contact's timeline has the email conversation and the agent's answer to it.
        page.goto(f"{asgi_server.url}/desk/contacts/{conversation.contact_id}/")
        timeline = page.get_by_test_id("timeline")
        expect(timeline.locator("[data-testid=timeline-event][data-kind='conversation.opened']")).to_contain_text(
            "email")
        expect(timeline.locator("[data-testid=timeline-event][data-kind='conversation.assigned']")).to_have_count(1)
        assert errors == []
    finally:
        inbound.stop()
