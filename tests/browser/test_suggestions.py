"""Suggested replies in the workspace: the three most likely macros for the open chat, in its
language; Ctrl+Shift+1 puts the first in the composer; a new customer message draws them again;
the reply sent records the macro it inserted (the history the next training learns from)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conversations import services
from conversations.models import Macro, Message
from conversations.suggestions.training import suggestion_model_train
from tests.browser.desk import assigned_chat, desk_prepare, desk_sign_in
from tests.factories import AgentFactory, ConversationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HISTORY = {
    "macro:late": ("¿Dónde está mi pedido?", "Hola, ¿mi pedido? Llega tarde", "Mi pedido no llega, ¿dónde está?"),
    "macro:refund": ("Quiero un reembolso", "Me cobrasteis dos veces, quiero el reembolso",
                     "¿Cuándo llega mi reembolso?"),
    "macro:greeting": ("Buenas tardes", "Hola, buenas"),
}


@pytest.fixture(autouse=True)
def _desk(settings):
    desk_prepare(settings)


def _history_trained() -> None:
    for shortcut, title, body in (("late", "Pedido con retraso", "Siento el retraso de tu pedido."),
                                  ("refund", "Reembolso emitido", "Ya he emitido tu reembolso."),
                                  ("greeting", "Saludo", "¡Hola! ¿En qué te ayudo?")):
        Macro.objects.create(shortcut=shortcut, language="es", title=title, body=body)
    author = AgentFactory()
    twenty_days_ago = timezone.now() - timedelta(days=20)
    for label, texts in HISTORY.items():
        for text in texts * 3:
            conversation = ConversationFactory(language="es")
            services.message_create(conversation=conversation, direction="in", body=text)
            services.message_create(conversation=conversation, direction="out", body="…", author=author,
                                    inserted=[label])
            Message.objects.filter(conversation=conversation).update(created_at=twenty_days_ago)
    suggestion_model_train()


def test_an_agent_inserts_the_suggested_macro_with_a_keystroke_and_the_reply_records_it(asgi_server, page):
    _history_trained()
    profile, conversation, session = assigned_chat()  # the customer asked "Hola, ¿mi pedido?"

    page.set_default_timeout(15_000)
    desk_sign_in(page, f"{asgi_server.url}/desk/c/{conversation.pk}/", profile)
    suggestions = page.get_by_test_id("suggestion")
    expect(suggestions).to_have_count(3)
    expect(suggestions.first).to_have_attribute("data-label", "macro:late")
    expect(suggestions.first).to_contain_text("Pedido con retraso")

    composer = page.get_by_test_id("composer")
    composer.click()
    page.keyboard.press("Control+Shift+Digit1")
    expect(composer).to_have_value("Siento el retraso de tu pedido. ")

    # The customer writes about something else: the suggestions are drawn again for it.
    services.visitor_message_send(session=session, body="Y además quiero un reembolso",
                                  conversation_id=conversation.pk)
    expect(suggestions.first).to_have_attribute("data-label", "macro:refund")

    composer.fill("")
    composer.click()
    page.keyboard.press("Control+Shift+Digit1")
    expect(composer).to_have_value("Ya he emitido tu reembolso. ")
    composer.press("Control+Enter")
    expect(composer).to_have_value("")

    reply = Message.objects.filter(conversation=conversation, direction="out").get()
    assert (reply.body, reply.inserted) == ("Ya he emitido tu reembolso. ", ["macro:refund"])
