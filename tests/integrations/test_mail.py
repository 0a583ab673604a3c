"""Outgoing email through a real SMTP server (the desk's own sink, aiosmtpd) and the mailbox page."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest
from django.test import Client
from django.urls import reverse

from integrations.mail import MailPermanentError, MailTransientError, mail_send, message_id_for
from integrations.mail_sink import mailbox_store
from integrations.models import MailboxMessage
from tests.conftest import free_port
from tests.factories import AgentFactory, SupervisorFactory


def test_a_sent_email_arrives_in_the_sink_with_its_message_id(smtp_sink):
    sent = mail_send(to="ana@example.com", subject="Sorry for the wait", body="Your order is late.\nSorry!",
                     idempotency_key="workflow:1:order:42:step:0")

    stored = MailboxMessage.objects.get()
    assert stored.message_id == sent.message_id == message_id_for("workflow:1:order:42:step:0")
    assert stored.recipients == "ana@example.com"
    assert stored.subject == "Sorry for the wait"
    assert stored.body.strip() == "Your order is late.\nSorry!"
    assert stored.times_received == 1


def test_a_retried_send_is_counted_not_stored_twice(smtp_sink):
    for _attempt in range(3):
        mail_send(to="ana@example.com", subject="Sorry", body="Late.", idempotency_key="run:7:step:0")
    mail_send(to="ana@example.com", subject="Sorry", body="Late.", idempotency_key="run:8:step:0")

    assert sorted(MailboxMessage.objects.values_list("times_received", flat=True)) == [1, 3]


def test_texts_in_any_language_arrive_intact(smtp_sink):
    mail_send(to="yuki@example.com", subject="ご注文の遅れについて", body="大変申し訳ございません。",
              idempotency_key="ja")
    mail_send(to="olga@example.com", subject="Приносим извинения", body="Ваш заказ задерживается.",
              idempotency_key="ru")

    assert set(MailboxMessage.objects.values_list("subject", "body")) == {
        ("ご注文の遅れについて", "大変申し訳ございません。\n"),
        ("Приносим извинения", "Ваш заказ задерживается.\n"),
    }


def test_a_bad_address_is_a_permanent_error_and_sends_nothing(smtp_sink):
    with pytest.raises(MailPermanentError):
        mail_send(to="not an address", subject="x", body="y", idempotency_key="k")
    assert not MailboxMessage.objects.exists()


def test_a_newline_in_the_subject_is_refused(smtp_sink):
    with pytest.raises(MailPermanentError):
        mail_send(to="ana@example.com", subject="Hi\nBcc: everyone@example.com", body="y", idempotency_key="k")
    assert not MailboxMessage.objects.exists()


def test_an_unreachable_server_is_a_transient_error(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2

    with pytest.raises(MailTransientError):
        mail_send(to="ana@example.com", subject="x", body="y", idempotency_key="k")


def test_a_message_without_message_id_from_another_sender_is_kept_by_its_content(smtp_sink):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "shop@example.com", "ana@example.com", "Hello"
    message.set_content("No Message-ID here.")
    for _attempt in range(2):
        with smtplib.SMTP(smtp_sink.hostname, smtp_sink.port) as client:
            client.send_message(message)

    stored = MailboxMessage.objects.get()
    assert stored.times_received == 2
    assert stored.message_id.endswith("@sink.invalid>")


@pytest.mark.django_db
def test_the_mailbox_lists_newest_first_and_shows_a_body_escaped():
    mailbox_store(mail_from="desk@example.com", recipients=["ana@example.com"],
                  raw=b"Message-ID: <1@x>\r\nSubject: First\r\n\r\nfirst body\r\n")
    mailbox_store(mail_from="desk@example.com", recipients=["bob@example.com"],
                  raw=b"Message-ID: <2@x>\r\nSubject: <b>Second</b>\r\n\r\n<script>alert(1)</script>\r\n")
    client = Client()
    client.force_login(SupervisorFactory())

    listing = client.get(reverse("mailbox:list")).content.decode()
    second = MailboxMessage.objects.get(message_id="<2@x>")
    page = client.get(reverse("mailbox:message", args=[second.pk])).content.decode()

    assert listing.index("bob@example.com") < listing.index("ana@example.com")
    assert "&lt;b&gt;Second&lt;/b&gt;" in listing and "<b>Second</b>" not in listing
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page


@pytest.mark.django_db
def test_the_mailbox_is_for_supervisors_only():
    agent = Client()
    agent.force_login(AgentFactory())
    supervisor = Client()
    supervisor.force_login(SupervisorFactory())

    assert agent.get(reverse("mailbox:list")).status_code == 403
    assert Client().get(reverse("mailbox:list")).status_code == 302
    assert supervisor.get(reverse("mailbox:message", args=[999999])).status_code == 404


@pytest.mark.django_db
def test_the_mailbox_shows_what_the_fake_oms_received(fake_oms):
    from decimal import Decimal

    from integrations.oms.client import get_oms_client

    get_oms_client().issue_rebate(order_external_id="ORD-9", amount=Decimal("5.00"), currency="EUR",
                                  reason="late <order>", idempotency_key="k9")
    client = Client()
    client.force_login(SupervisorFactory())

    page = client.get(reverse("mailbox:list")).content.decode()

    assert "ORD-9" in page and "5.00 EUR" in page and "late &lt;order&gt;" in page


# --- the workflows' "email" channel ---------------------------------------------------------------


def test_the_email_channel_is_registered_and_sends_the_rendered_template_once_per_key(smtp_sink):
    from tests.factories import ContactFactory
    from workflows.registry import channel
    from workflows.templates import Rendered

    contact = ContactFactory(email="lucia@example.com")
    rendered = Rendered(language="es", subject="Lo sentimos", body="Tu pedido llega tarde.")
    email = channel("email")

    first = email.send(contact, rendered, idempotency_key="run:1:step:1", context=None)
    again = email.send(contact, rendered, idempotency_key="run:1:step:1", context=None)

    stored = MailboxMessage.objects.get()
    assert first == again == stored.message_id
    assert (stored.subject, stored.times_received) == ("Lo sentimos", 2)
    assert "Content-Language: es" in stored.raw


def test_the_email_channel_fails_the_step_without_an_address_and_retries_when_unreachable(settings, db):
    from tests.factories import ContactFactory
    from workflows.registry import StepFailed, StepRetry, channel
    from workflows.templates import Rendered

    rendered = Rendered(language="en", subject="Sorry", body="Late.")
    with pytest.raises(StepFailed):
        channel("email").send(ContactFactory(email=""), rendered, idempotency_key="k", context=None)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    with pytest.raises(StepRetry):
        channel("email").send(ContactFactory(email="a@example.com"), rendered, idempotency_key="k", context=None)
