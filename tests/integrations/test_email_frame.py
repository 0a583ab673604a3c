"""The desk's words around the emails it sends customers (integrations.email_frame), through the
real SMTP sink: an agent's reply and an automated email carry their footer in the customer's
language (the conversation's, else the contact's, else English); the words the agent or the
workflow wrote are sent as written."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from conversations import channels
from conversations.services import agent_reply, conversation_open
from integrations.email_frame import SIGNATURE_SEPARATOR
from integrations.mail import email_channel_send
from integrations.models import MailboxMessage
from tests.factories import ContactFactory, SupervisorFactory


def _reply_sent(*, contact_language: str, conversation_language: str, subject: str = "") -> MailboxMessage:
    contact = ContactFactory(email="ana@example.com", preferred_language=contact_language)
    conversation = conversation_open(contact=contact, channel="email", subject=subject)
    conversation.language = conversation_language
    conversation.save(update_fields=["language"])
    agent_reply(conversation_id=conversation.pk, user=SupervisorFactory(), body="Lo miramos ahora mismo.")
    channels.outbound_drain()
    return MailboxMessage.objects.get()


def test_an_agents_reply_ends_with_how_to_answer_in_the_conversations_language(smtp_sink):
    sent = _reply_sent(contact_language="", conversation_language="es", subject="¿Dónde está mi pedido?")

    body, footer = sent.body.split(f"\n{SIGNATURE_SEPARATOR}\n")
    assert body.strip() == "Lo miramos ahora mismo."
    conversation_id = _conversation_id()
    assert footer.strip() == (f"Para contestar, responde a este correo; tu respuesta se añadirá a la "
                              f"conversación n.º {conversation_id}.")
    assert sent.subject == "Re: ¿Dónde está mi pedido?"  # the contact's own subject stays theirs


def test_a_reply_without_a_subject_is_titled_in_the_contacts_language(smtp_sink):
    sent = _reply_sent(contact_language="de", conversation_language="")

    assert sent.subject == f"Ihre Unterhaltung Nr. {_conversation_id()}"
    assert "Antworten Sie einfach auf diese E-Mail" in sent.body


def test_a_language_the_desk_does_not_ship_gets_the_english_frame(smtp_sink):
    sent = _reply_sent(contact_language="ja", conversation_language="ja")

    assert sent.subject == f"Your conversation #{_conversation_id()}"
    assert sent.body.rstrip().endswith(f"your answer joins conversation #{_conversation_id()}.")


@pytest.mark.parametrize(("text_language", "contact_language", "footer"), [
    ("ar", "", "أُرسلت هذه الرسالة تلقائيًا."),
    ("", "uk", "Цей лист надіслано автоматично."),
    ("ja", "ko", "이 이메일은 자동으로 발송되었습니다."),  # a text in a language without a frame: the contact's
    ("", "", "This email was sent automatically."),
])
def test_an_automated_email_says_so_in_the_customers_language(smtp_sink, text_language, contact_language, footer):
    contact = ContactFactory(email="carla@example.com", preferred_language=contact_language)

    rendered = SimpleNamespace(subject="Sorry", body="Your order is late.", language=text_language)
    email_channel_send(contact, rendered, idempotency_key=f"wf:{text_language}:{contact_language}")

    body, frame = MailboxMessage.objects.get().body.split(f"\n{SIGNATURE_SEPARATOR}\n")
    assert body.strip() == "Your order is late."
    assert frame.strip().startswith(footer)


def _conversation_id() -> int:
    from conversations.models import Conversation

    return Conversation.objects.get().pk
