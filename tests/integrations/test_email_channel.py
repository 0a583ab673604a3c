"""The email channel: inbound emails stored raw, threaded into conversations, auto-replies and
bounces kept out; agents' replies sent through the transport with threading headers; a real
SMTP round trip through the desk's inbound server and its sink."""

from __future__ import annotations

import smtplib
from email import message_from_string
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from conversations import channels
from conversations.models import (
    Channel,
    Conversation,
    ConversationStatus,
    DeliveryState,
    Message,
    MessageDirection,
)
from conversations.services import agent_reply, conversation_status_set
from integrations.email_inbound import email_inbound_store, inbound_emails_drain
from integrations.email_threads import reply_address, thread_ref_record
from integrations.models import EmailThreadRef, InboundEmail, InboundEmailStatus, MailboxMessage
from integrations.smtp_inbound import inbound_controller
from routing.models import Queue, WhileOpen, WorkItem
from supportdesk.models import OutboxEntry
from tests.conftest import free_port
from tests.factories import ContactFactory, SupervisorFactory
from timeline.models import Contact

DESK = "support@supportdesk.local"


def email(*, sender: str = "Ana Lopez <ana@example.com>", to: str = DESK, subject: str = "Where is my order?",
          body: str = "Hello, my order 123 has not arrived yet.", message_id: str | None = None,
          headers: dict[str, str] | None = None, html: str | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain="example.com")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message.as_bytes()


def receive(raw: bytes, **kwargs) -> InboundEmail:
    stored = email_inbound_store(raw, source="test", **kwargs)
    inbound_emails_drain()
    return InboundEmail.objects.get(pk=stored.inbound_id)


def message_id_of(raw: bytes) -> str:
    from email import message_from_bytes

    return message_from_bytes(raw)["Message-ID"]


@pytest.fixture
def desk_user(db):
    return SupervisorFactory()  # may answer any conversation (an agent answers the ones routed to them)


# --- a new email ------------------------------------------------------------------------------------------


def test_a_new_email_opens_an_email_conversation_for_a_new_contact(db):
    row = receive(email())

    assert row.status == InboundEmailStatus.PROCESSED
    contact = Contact.objects.get(email="ana@example.com")
    assert (contact.kind, contact.name, contact.external_id) == ("customer", "Ana Lopez", "email:ana@example.com")
    conversation = Conversation.objects.get(contact=contact)
    assert (conversation.channel, conversation.subject, row.conversation_id) == (
        Channel.EMAIL, "Where is my order?", conversation.pk)
    message = Message.objects.get(conversation=conversation)
    assert message.direction == MessageDirection.INBOUND
    assert message.body == "Hello, my order 123 has not arrived yet."
    assert message.channel_metadata["email"]["message_id"] == row.message_id


def test_the_sender_is_found_whatever_the_case_of_the_address(db):
    known = ContactFactory(email="Ana.Lopez@Example.com")

    receive(email(sender="ana.lopez@example.COM"))

    assert Conversation.objects.get().contact_id == known.pk
    assert Contact.objects.count() == 1


def test_the_same_email_delivered_twice_is_one_message(db):
    raw = email()
    first = email_inbound_store(raw, source="test")
    again = email_inbound_store(raw, source="test")
    inbound_emails_drain()
    email_inbound_store(raw, source="smtp")
    inbound_emails_drain()

    assert (first.duplicate, again.duplicate, again.inbound_id) == (False, True, first.inbound_id)
    assert InboundEmail.objects.count() == 1
    assert Message.objects.count() == 1


def test_the_quoted_history_and_signature_are_trimmed_and_the_original_kept(db):
    body = ("Thanks, it arrived.\n\n--\nAna Lopez\nSent from my phone\n\n"
            "On Mon, Nov 30, 2026 at 10:00 AM Support <support@supportdesk.local> wrote:\n"
            "> Your order is on its way.\n> Best regards\n")
    row = receive(email(body=body))

    assert Message.objects.get().body == "Thanks, it arrived."
    assert b"> Your order is on its way." in bytes(row.raw)


def test_a_spanish_quote_header_is_trimmed_too(db):
    body = ("Gracias, ya llegó.\n\n"
            "El lun, 30 nov 2026 a las 10:00, Soporte <support@supportdesk.local> escribió:\n"
            "> Su pedido está en camino.\n")
    receive(email(body=body))

    assert Message.objects.get().body == "Gracias, ya llegó."


def test_html_is_sanitised_and_its_text_shown_when_there_is_no_text_part(db):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "ana@example.com", DESK, "HTML only"
    message["Message-ID"] = make_msgid(domain="example.com")
    message.set_content("<p>Hello <b>team</b></p><script>alert('x')</script><p>Order&nbsp;42 &amp; more</p>"
                        "<img src=x onerror=alert(1)>", subtype="html")
    row = receive(message.as_bytes())

    text = Message.objects.get().body
    assert "Hello team" in text and "Order\xa042 & more" in text
    assert "alert" not in text and "<" not in text
    assert "<script" not in row.html and "onerror" not in row.html and "<b>team</b>" in row.html


def test_a_long_email_is_shortened_for_the_conversation_and_kept_whole(db, settings):
    body = "word " * 5000
    row = receive(email(body=body))

    shown = Message.objects.get().body
    assert len(shown) <= settings.CHAT_MESSAGE_MAX_CHARS and shown.endswith("[…]")
    from email import message_from_bytes, policy

    assert message_from_bytes(bytes(row.raw), policy=policy.default).get_content().count("word") == 5000


# --- threading ------------------------------------------------------------------------------------------


def _agent_reply_sent(conversation: Conversation, desk_user, body: str = "We are on it.") -> Message:
    message = agent_reply(conversation_id=conversation.pk, user=desk_user, body=body)
    channels.outbound_drain()
    message.refresh_from_db()
    return message


def test_an_agent_reply_is_sent_threaded_with_a_reply_address(smtp_sink, desk_user):
    first = receive(email(headers={"References": "<older@example.com>"}))
    conversation = first.conversation

    message = _agent_reply_sent(conversation, desk_user)

    assert message.delivery_state == DeliveryState.SENT
    sent = MailboxMessage.objects.get()
    assert sent.message_id == message.delivery_reference
    assert sent.recipients == "ana@example.com"
    assert sent.subject == "Re: Where is my order?"
    headers = message_from_string(sent.raw)
    assert headers["In-Reply-To"] == first.message_id
    assert " ".join(headers["References"].split()) == f"<older@example.com> {first.message_id}"
    assert headers["Reply-To"] == reply_address(conversation.pk)
    assert EmailThreadRef.objects.get(message_id=sent.message_id).conversation_id == conversation.pk


def test_a_reply_to_the_agents_email_lands_in_its_conversation(smtp_sink, desk_user):
    conversation = receive(email()).conversation
    sent = _agent_reply_sent(conversation, desk_user)

    answer = receive(email(subject="Re: Where is my order?", body="Thanks!",
                           headers={"In-Reply-To": sent.delivery_reference}))

    assert answer.conversation_id == conversation.pk
    assert list(Message.objects.filter(conversation=conversation).values_list("direction", flat=True)) == [
        "in", "out", "in"]


def test_a_reply_whose_in_reply_to_was_rewritten_lands_by_its_references(smtp_sink, desk_user):
    conversation = receive(email()).conversation
    sent = _agent_reply_sent(conversation, desk_user)

    answer = receive(email(subject="AW: something else", body="Danke",
                           headers={"In-Reply-To": "<rewritten-by-the-client@mail.example>",
                                    "References": f"<unknown@x> {sent.delivery_reference} <rewritten@x>"}))

    assert answer.conversation_id == conversation.pk


def test_a_reply_with_no_threading_headers_lands_by_its_reply_token(smtp_sink, desk_user):
    conversation = receive(email()).conversation
    conversation_status_set(conversation=conversation, status=ConversationStatus.RESOLVED)

    answer = receive(email(subject="a new subject", to=reply_address(conversation.pk), body="One more thing"))

    assert answer.conversation_id == conversation.pk
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.OPEN  # the contact answered: reopened


def test_a_forged_reply_token_opens_a_new_conversation(db):
    conversation = receive(email()).conversation
    conversation_status_set(conversation=conversation, status=ConversationStatus.RESOLVED)
    forged = reply_address(conversation.pk).replace("reply+", "reply+1").split("@")[0][:-1] + "0@supportdesk.local"

    for to in (forged, f"reply+{conversation.pk}-0000000000000000@supportdesk.local"):
        receive(email(to=to, body="Hi"))

    assert Conversation.objects.filter(contact=conversation.contact).count() == 2
    assert Message.objects.filter(conversation=conversation).count() == 1


def test_replies_from_different_people_to_one_thread_stay_apart(smtp_sink, desk_user):
    conversation = receive(email()).conversation
    sent = _agent_reply_sent(conversation, desk_user)

    other = receive(email(sender="bruno@example.com", subject="Re: Where is my order?", body="Me too",
                          headers={"In-Reply-To": sent.delivery_reference}))

    assert other.conversation_id != conversation.pk
    assert other.conversation.contact.email == "bruno@example.com"
    assert Message.objects.filter(conversation=conversation).count() == 2


def test_answers_to_a_workflows_email_open_one_conversation_that_the_thread_joins(db):
    contact = ContactFactory(email="carla@example.com")
    thread_ref_record(message_id="<apology-1@supportdesk.local>", contact_id=contact.pk, conversation_id=None,
                      outbound=True)

    first = receive(email(sender="carla@example.com", subject="Re: Sorry, your order is late", body="Ok",
                          headers={"In-Reply-To": "<apology-1@supportdesk.local>"}))
    second = receive(email(sender="carla@example.com", subject="Re: Sorry, your order is late", body="Also...",
                           headers={"In-Reply-To": "<something@client>",
                                    "References": "<apology-1@supportdesk.local> <something@client>"}))

    assert first.conversation_id is not None and second.conversation_id == first.conversation_id
    assert EmailThreadRef.objects.get(message_id="<apology-1@supportdesk.local>").conversation_id == \
        first.conversation_id


def _queue_of(conversation: Conversation) -> Queue:
    from conversations.services import conversation_route

    conversation_route(conversation_id=conversation.pk)
    return WorkItem.objects.get(conversation_id=conversation.pk).queue


def test_a_new_subject_joins_the_open_conversation_when_its_queue_joins(db):
    conversation = receive(email()).conversation
    queue = _queue_of(conversation)
    assert queue.new_email_while_open == WhileOpen.JOIN

    row = receive(email(subject="Another question", body="And my invoice?"))

    assert row.conversation_id == conversation.pk


def test_a_new_subject_opens_a_linked_conversation_when_its_queue_links(db):
    conversation = receive(email()).conversation
    Queue.objects.filter(pk=_queue_of(conversation).pk).update(new_email_while_open=WhileOpen.LINK)

    row = receive(email(subject="Another question", body="And my invoice?"))

    assert row.conversation_id != conversation.pk
    assert row.conversation.linked_conversation_id == conversation.pk


def test_a_new_subject_after_the_last_one_was_resolved_opens_a_new_conversation(db):
    conversation = receive(email()).conversation
    conversation_status_set(conversation=conversation, status=ConversationStatus.RESOLVED)

    row = receive(email(subject="Another question", body="And my invoice?"))

    assert row.conversation_id != conversation.pk
    assert row.conversation.linked_conversation_id is None


# --- what is no conversation's business ----------------------------------------------------------------


@pytest.mark.parametrize("headers, envelope_from", [
    ({"Auto-Submitted": "auto-replied"}, ""),
    ({"Auto-Submitted": "auto-generated"}, ""),
    ({"Precedence": "bulk"}, ""),
    ({"Precedence": "auto_reply"}, ""),
    ({"X-Autoreply": "yes"}, ""),
    ({"Return-Path": "<>"}, ""),
    ({}, "<>"),
])
def test_auto_replies_open_no_conversation(db, headers, envelope_from):
    row = receive(email(subject="Out of office", body="I am away until Monday.", headers=headers),
                  envelope_from=envelope_from)

    assert row.status == InboundEmailStatus.IGNORED and row.outcome
    assert not Conversation.objects.exists()


def test_auto_submitted_no_is_a_person(db):
    assert receive(email(headers={"Auto-Submitted": "no"})).status == InboundEmailStatus.PROCESSED


def test_mail_from_the_desks_own_domain_is_not_answered(db):
    row = receive(email(sender="reply+1-abc@supportdesk.local"))

    assert row.status == InboundEmailStatus.IGNORED
    assert not Conversation.objects.exists()


def test_an_email_without_a_sender_address_is_kept_and_ignored(db):
    row = receive(email(sender="undisclosed-recipients:;"))

    assert row.status == InboundEmailStatus.IGNORED and "From" in row.outcome


def _bounce_for(message_id: str, *, to: str = "ana@example.com") -> bytes:
    report = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n"
        f"To: {DESK}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce-1@mx.example.com>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nI could not deliver your message.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\n"
        f"Final-Recipient: rfc822; {to}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: {DESK}\r\nTo: {to}\r\nMessage-ID: {message_id}\r\nSubject: Re: Where is my order?\r\n"
        "--B--\r\n"
    )
    return report.encode()


def test_a_bounce_marks_the_desks_message_failed_and_opens_nothing(smtp_sink, desk_user):
    conversation = receive(email()).conversation
    sent = _agent_reply_sent(conversation, desk_user)

    row = receive(_bounce_for(sent.delivery_reference), envelope_from="<>")

    sent.refresh_from_db()
    assert (sent.delivery_state, sent.delivery_detail) == (DeliveryState.FAILED, "smtp; 550 5.1.1 User unknown")
    assert row.status == InboundEmailStatus.IGNORED
    assert Conversation.objects.count() == 1 and Message.objects.filter(conversation=conversation).count() == 2


def test_a_bounce_about_an_unknown_message_changes_nothing(db):
    row = receive(_bounce_for("<not-ours@example.com>"))

    assert row.status == InboundEmailStatus.IGNORED and "not-ours" in row.outcome
    assert not Conversation.objects.exists()


# --- MIME edge cases -----------------------------------------------------------------------------------


def test_a_nested_multipart_email_takes_its_text_part(db):
    raw = (
        b"From: ana@example.com\r\nTo: support@supportdesk.local\r\nSubject: nested\r\n"
        b"Message-ID: <nested@example.com>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n'
        b'--outer\r\nContent-Type: multipart/related; boundary="rel"\r\n\r\n'
        b'--rel\r\nContent-Type: multipart/alternative; boundary="alt"\r\n\r\n'
        b"--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe plain text.\r\n"
        b"--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>The <i>html</i>.</p>\r\n"
        b"--alt--\r\n--rel\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"
        b"--rel--\r\n--outer\r\nContent-Type: application/pdf; name=invoice.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQ=\r\n--outer--\r\n"
    )
    row = receive(raw)

    assert Message.objects.get().body == "The plain text."
    assert "<i>html</i>" in row.html


@pytest.mark.parametrize("headers, payload, expected", [
    ("Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n",
     "Caf\xe9 fr\xeda".encode("latin-1"), "Café fría"),
    ("Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n", "Ünïcode raw".encode(), "Ünïcode raw"),
    ("Content-Type: text/plain; charset=x-no-such-charset\r\n", b"plain words", "plain words"),
    ("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n", b"!!!not base64 at all",
     None),
    ("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n",
     b"Gr=C3=BC=C3=9Fe =ZZ broken", "Grüße"),
])
def test_odd_and_broken_encodings_are_read_as_well_as_they_can_be(db, headers, payload, expected):
    raw = (f"From: ana@example.com\r\nTo: {DESK}\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n"
           f"Message-ID: {make_msgid(domain='example.com')}\r\nMIME-Version: 1.0\r\n{headers}\r\n").encode()
    raw += payload
    row = receive(raw)

    assert row.status == InboundEmailStatus.PROCESSED
    message = Message.objects.get()
    assert message.body.strip()
    if expected:
        assert expected in message.body
    assert Conversation.objects.get().subject == "café"


def test_huge_headers_are_kept_and_bounded(db):
    references = " ".join(f"<ref-{n}@example.com>" for n in range(5000))  # about 100 KB
    row = receive(email(subject="x" * 20_000, headers={"References": references}))

    assert row.status == InboundEmailStatus.PROCESSED
    assert len(Conversation.objects.get().subject) == 255


def test_a_message_over_the_size_limit_is_refused(db, settings):
    from integrations.email_inbound import EmailTooLarge

    settings.EMAIL_INBOUND_MAX_BYTES = 1000
    with pytest.raises(EmailTooLarge):
        email_inbound_store(email(body="x" * 2000), source="test")
    assert not InboundEmail.objects.exists()


# --- delivery --------------------------------------------------------------------------------------------


def test_a_reply_to_a_contact_without_an_address_fails_with_the_reason(db, desk_user):
    conversation = receive(email()).conversation
    Contact.objects.filter(pk=conversation.contact_id).update(email="")

    message = _agent_reply_sent(conversation, desk_user)

    assert message.delivery_state == DeliveryState.FAILED
    assert "no email address" in message.delivery_detail


def test_a_reply_waits_while_the_mail_server_is_down_and_is_sent_once_it_is_back(transactional_db, settings,
                                                                                  desk_user):
    conversation = receive(email()).conversation
    port = free_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 2
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""

    message = agent_reply(conversation_id=conversation.pk, user=desk_user, body="On it")
    assert channels.outbound_drain() == 0  # nobody listens on the port
    message.refresh_from_db()
    entry = OutboxEntry.objects.get(consumer=channels.CONSUMER, ref_id=message.pk)
    assert (message.delivery_state, entry.attempts) == (DeliveryState.QUEUED, 1)

    from integrations.mail_sink import sink_controller

    sink = sink_controller(host="127.0.0.1", port=port)
    sink.start()
    try:
        assert channels.outbound_drain() == 1
        assert channels.outbound_drain() == 0
    finally:
        sink.stop()
    message.refresh_from_db()
    assert message.delivery_state == DeliveryState.SENT
    assert MailboxMessage.objects.get().times_received == 1


def test_reports_never_take_a_message_back(smtp_sink, desk_user):
    conversation = receive(email()).conversation
    sent = _agent_reply_sent(conversation, desk_user)

    for state in (DeliveryState.READ, DeliveryState.DELIVERED, DeliveryState.SENT):
        channels.delivery_state_set(channel=Channel.EMAIL, reference=sent.delivery_reference, state=state)
    sent.refresh_from_db()
    assert sent.delivery_state == DeliveryState.READ
    channels.delivery_state_set(channel=Channel.EMAIL, reference=sent.delivery_reference,
                                state=DeliveryState.FAILED, detail="bounced later")
    channels.delivery_state_set(channel=Channel.EMAIL, reference=sent.delivery_reference, state=DeliveryState.READ)
    sent.refresh_from_db()
    assert (sent.delivery_state, sent.delivery_detail) == (DeliveryState.FAILED, "bounced later")
    assert channels.delivery_state_set(channel=Channel.EMAIL, reference="<unknown@x>",
                                       state=DeliveryState.READ) is None


def test_chat_replies_have_no_delivery_state(db, desk_user):
    from tests.factories import ConversationFactory

    chat = ConversationFactory(channel=Channel.CHAT)
    message = agent_reply(conversation_id=chat.pk, user=desk_user, body="Hi")

    assert message.delivery_state == ""
    assert not OutboxEntry.objects.filter(consumer=channels.CONSUMER).exists()


# --- the real SMTP round trip --------------------------------------------------------------------------


@pytest.fixture
def inbound_smtp(transactional_db):
    port = free_port()
    controller = inbound_controller(host="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def test_an_email_sent_to_the_desks_smtp_server_becomes_a_conversation_and_the_reply_comes_back(
        inbound_smtp, smtp_sink, desk_user):
    with smtplib.SMTP("127.0.0.1", inbound_smtp) as client:
        client.sendmail("ana@example.com", [DESK], email(body="Hello from a real SMTP client"))
    inbound_emails_drain()
    conversation = Conversation.objects.get()
    assert Message.objects.get(conversation=conversation).body == "Hello from a real SMTP client"

    sent = _agent_reply_sent(conversation, desk_user, body="Hello from the desk")
    outgoing = MailboxMessage.objects.get()
    assert "Hello from the desk" in outgoing.body

    # The customer's mail client answers the reply, at its Reply-To, through the same server.
    with smtplib.SMTP("127.0.0.1", inbound_smtp) as client:
        client.sendmail("ana@example.com", [reply_address(conversation.pk)],
                        email(to=reply_address(conversation.pk), subject="Re: Where is my order?",
                              body="Thank you!", headers={"In-Reply-To": sent.delivery_reference}))
    inbound_emails_drain()
    assert list(Message.objects.filter(conversation=conversation).values_list("body", flat=True)) == [
        "Hello from a real SMTP client", "Hello from the desk", "Thank you!"]


def test_the_smtp_server_is_no_open_relay_and_refuses_what_is_too_big(transactional_db, settings):
    settings.EMAIL_INBOUND_MAX_BYTES = 50_000
    port = free_port()
    controller = inbound_controller(host="127.0.0.1", port=port)
    controller.start()
    try:
        with smtplib.SMTP("127.0.0.1", port) as client:
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                client.sendmail("ana@example.com", ["someone@elsewhere.example"],
                                email(to="someone@elsewhere.example"))
        assert refused.value.recipients["someone@elsewhere.example"][0] == 550

        with smtplib.SMTP("127.0.0.1", port) as client:
            with pytest.raises(smtplib.SMTPResponseException) as too_big:
                client.sendmail("ana@example.com", [DESK], email(body="x " * 30_000))
        assert too_big.value.smtp_code == 552
    finally:
        controller.stop()
    assert not InboundEmail.objects.exists()


def test_a_null_return_path_over_smtp_is_an_automatic_message(inbound_smtp):
    with smtplib.SMTP("127.0.0.1", inbound_smtp) as client:
        client.sendmail("<>", [DESK], email(subject="Automatic reply"))
    inbound_emails_drain()

    assert InboundEmail.objects.get().status == InboundEmailStatus.IGNORED
    assert not Conversation.objects.exists()


@pytest.mark.parametrize("text, expected", [
    ("Gracias, ya llegó.\n\nEl lun, 30 nov 2026 a las 10:00, Soporte <s@x> escribió:\n> Su pedido.\n> Saludos",
     "Gracias, ya llegó."),
    ("감사합니다\n\n2026년 11월 30일 (월) 오전 10:00, Support <s@x>님이\n작성:\n> 주문\n>\n> 안내", "감사합니다"),
    ("Ok\n> quoted without a header", "Ok"),
    ("See below\n> question one\nanswer one\n> question two\nanswer two",
     "See below\n> question one\nanswer one\n> question two\nanswer two"),
    ("> only a quote", "> only a quote"),
])
def test_a_trailing_quote_is_cut_in_any_language_and_answers_in_between_are_kept(text, expected):
    from integrations.email_content import text_trimmed

    assert text_trimmed(text) == expected


# --- attachments ------------------------------------------------------------------------------------------


def _with_attachments() -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "ana@example.com", DESK, "Photos of the damage"
    message["Message-ID"] = make_msgid(domain="example.com")
    message.set_content("See the photo and the invoice.")
    message.add_attachment(b"\x89PNG\r\n\x1a\nfake-png", maintype="image", subtype="png", filename="photo.png")
    message.add_attachment(b"<script>alert(1)</script>", maintype="text", subtype="html",
                           filename="../../evil.html")
    message.add_attachment(b"%PDF-1.4 invoice", maintype="application", subtype="pdf")
    return message.as_bytes()


def test_attachments_are_listed_on_the_message_and_served_only_as_downloads(client, desk_user):
    row = receive(_with_attachments())
    message = Message.objects.get()

    assert [(file["name"], file["type"], file["size"]) for file in message.channel_metadata["attachments"]] == [
        ("photo.png", "image/png", 16), ("evil.html", "text/html", 25),
        ("attachment-3.pdf", "application/pdf", 16)]
    client.force_login(desk_user)
    url = f"/desk/conversations/{row.conversation_id}/messages/{message.sequence}/attachments/"
    response = client.get(url + "1/")
    assert response.status_code == 200
    assert response.content == b"<script>alert(1)</script>"
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="evil.html"'
    assert response["X-Content-Type-Options"] == "nosniff" and "sandbox" in response["Content-Security-Policy"]
    assert client.get(url + "0/").content == b"\x89PNG\r\n\x1a\nfake-png"

    page = client.get(f"/desk/conversations/{row.conversation_id}/")
    assert page.content.count(b'data-testid="attachment"') == 3


def test_an_attachment_is_refused_to_whoever_may_not_see_the_conversation(db, client):
    from tests.factories import AgentFactory

    row = receive(_with_attachments())
    url = f"/desk/conversations/{row.conversation_id}/messages/1/attachments/0/"

    assert client.get(url).status_code == 302  # not signed in: to the login page
    client.force_login(AgentFactory())  # an agent it was never routed to
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("path", ["1/attachments/3/", "2/attachments/0/", "1/attachments/99999999/"])
def test_an_attachment_that_does_not_exist_is_404(client, desk_user, path):
    row = receive(_with_attachments())
    client.force_login(desk_user)

    assert client.get(f"/desk/conversations/{row.conversation_id}/messages/{path}").status_code == 404


def test_the_desks_own_email_coming_back_is_not_answered(smtp_sink, desk_user, settings):
    conversation = receive(email()).conversation
    sent = _agent_reply_sent(conversation, desk_user)

    # A misrouted MX hands the desk its own reply, as sent (same Message-ID, the desk's From).
    back = receive(MailboxMessage.objects.get().raw.encode())
    from_desk = receive(email(sender=settings.DEFAULT_FROM_EMAIL, subject="Re: x"))

    assert back.message_id == sent.delivery_reference
    assert back.status == from_desk.status == InboundEmailStatus.IGNORED
    assert Message.objects.filter(conversation=conversation).count() == 2
    assert Conversation.objects.count() == 1


def test_a_workflows_email_asks_autoresponders_not_to_answer(smtp_sink):
    from types import SimpleNamespace

    from integrations.mail import email_channel_send

    contact = ContactFactory(email="carla@example.com")
    email_channel_send(contact, SimpleNamespace(subject="Sorry", body="Late", language="es"),
                       idempotency_key="wf:1")

    raw = MailboxMessage.objects.get().raw
    assert "Auto-Submitted: auto-generated" in raw and "Content-Language: es" in raw


# --- what the review found ------------------------------------------------------------------------------


def test_a_bounce_forged_from_outside_cannot_name_a_reply(smtp_sink, desk_user):
    import hashlib

    conversation = receive(email()).conversation
    sent = _agent_reply_sent(conversation, desk_user)
    # What an outsider could compute from the message's number alone:
    guessed = f"<{hashlib.sha256(f'conversations.message:{sent.pk}'.encode()).hexdigest()[:40]}@supportdesk.local>"

    assert guessed != sent.delivery_reference
    receive(_bounce_for(guessed), envelope_from="<>")
    sent.refresh_from_db()
    assert sent.delivery_state == DeliveryState.SENT


def test_an_attachment_is_read_only_from_its_own_conversations_email(db, client, desk_user):
    theirs = receive(_with_attachments())
    mine = receive(email(sender="eve@example.com", body="hi"))
    message = Message.objects.get(conversation=mine.conversation)
    Message.objects.filter(pk=message.pk).update(channel_metadata={
        "email": {"inbound_email_id": theirs.pk}, "attachments": [{"name": "x", "type": "image/png", "size": 1}]})
    client.force_login(desk_user)

    url = f"/desk/conversations/{mine.conversation_id}/messages/{message.sequence}/attachments/0/"
    assert client.get(url).status_code == 404


def test_the_api_refuses_the_providers_metadata_keys(db):
    from rest_framework.test import APIClient

    from tests.factories import IntegrationFactory

    conversation = receive(email()).conversation
    api = APIClient()
    api.force_authenticate(IntegrationFactory())
    for key in ("email", "whatsapp", "attachments"):
        response = api.post(f"/api/v1/conversations/{conversation.pk}/messages/",
                            {"direction": "in", "body": "x", "channel_metadata": {key: {}}}, format="json")
        assert response.status_code == 400, key
    assert Message.objects.filter(conversation=conversation).count() == 1


def test_a_send_that_keeps_failing_is_tried_once_a_drain(db, desk_user):
    calls = []

    def refusing(message, conversation, key):
        calls.append(key)
        raise channels.TransportRetry("busy")

    previous = channels.transport_for(Channel.EMAIL)
    channels.transport_register(channel=Channel.EMAIL, send=refusing)
    try:
        conversation = receive(email()).conversation
        agent_reply(conversation_id=conversation.pk, user=desk_user, body="On it")
        channels.outbound_drain()
        channels.outbound_drain()
    finally:
        channels.transport_register(channel=Channel.EMAIL, send=previous.send)
    assert len(calls) == 2  # once per drain, not twice (the batch, then the entry alone)


def test_nul_characters_are_dropped_not_refused(db):
    raw = email(subject="Hola\x00 equipo", body="Mi pedido\x00 no llega")
    row = receive(raw.replace(b"Hola equipo", b"Hola\x00 equipo"))

    assert row.status == InboundEmailStatus.PROCESSED
    assert Message.objects.get().body == "Mi pedido no llega"
    assert "\x00" not in Conversation.objects.get().subject


# --- a drain's batch ------------------------------------------------------------------------------------


def store_all(*raws: bytes) -> list[int]:
    return [email_inbound_store(raw, source="test").inbound_id for raw in raws]


def test_a_batch_threads_a_reply_on_an_email_earlier_in_the_same_batch(db):
    first = email(subject="My order", body="Where is it?")
    other = email(sender="bruno@example.com", subject="Hello", body="Another person")
    reply = email(subject="Re: My order", body="Any news?", headers={"In-Reply-To": message_id_of(first)})
    ids = store_all(first, other, reply)

    assert inbound_emails_drain() == 3

    rows = InboundEmail.objects.in_bulk(ids)
    assert {row.status for row in rows.values()} == {InboundEmailStatus.PROCESSED}
    assert rows[ids[2]].conversation_id == rows[ids[0]].conversation_id != rows[ids[1]].conversation_id
    assert list(Message.objects.filter(conversation_id=rows[ids[0]].conversation_id).order_by("sequence")
                .values_list("sequence", "body")) == [(1, "Where is it?"), (2, "Any news?")]
    assert Contact.objects.count() == 2


def test_a_new_senders_emails_in_one_batch_make_one_contact_and_join_one_case(db):
    store_all(*(email(sender="Nora New <nora@example.com>", subject=f"Question {n}", body=f"Text {n}")
                for n in range(3)))

    inbound_emails_drain()

    contact = Contact.objects.get()
    assert (contact.name, contact.email) == ("Nora New", "nora@example.com")
    conversation = Conversation.objects.get()
    assert list(conversation.messages.order_by("sequence").values_list("sequence", "body")) == [
        (1, "Text 0"), (2, "Text 1"), (3, "Text 2")]
    conversation.refresh_from_db()
    assert (conversation.subject, conversation.last_message_sequence) == ("Question 0", 3)


def test_a_batch_keeps_out_what_is_no_conversations_business_and_places_the_rest(smtp_sink, desk_user):
    conversation = receive(email()).conversation
    sent = _agent_reply_sent(conversation, desk_user)
    ids = store_all(email(subject="Out of office", headers={"Auto-Submitted": "auto-replied"}),
                    _bounce_for(sent.delivery_reference),
                    email(sender="reply+1-abc@supportdesk.local"),
                    email(subject="Re: Where is my order?", body="Thanks",
                          headers={"In-Reply-To": sent.delivery_reference}))

    inbound_emails_drain()

    rows = InboundEmail.objects.in_bulk(ids)
    assert [rows[pk].status for pk in ids] == [InboundEmailStatus.IGNORED] * 3 + [InboundEmailStatus.PROCESSED]
    assert rows[ids[3]].conversation_id == conversation.pk
    sent.refresh_from_db()
    assert sent.delivery_state == DeliveryState.FAILED
    assert Conversation.objects.count() == 1


def test_a_bad_email_in_a_batch_is_set_aside_and_the_others_are_processed(db, monkeypatch):
    from integrations import email_inbound

    bad = email(subject="poison", body="x")
    ids = store_all(email(body="one"), bad, email(sender="bruno@example.com", body="two"))
    parse = email_inbound.email_parse

    def failing(row):
        if row.subject == "poison":
            raise ValueError("cannot read it")
        return parse(row)

    monkeypatch.setattr(email_inbound, "email_parse", failing)
    inbound_emails_drain()

    rows = InboundEmail.objects.in_bulk(ids)
    assert [rows[pk].status for pk in ids] == [InboundEmailStatus.PROCESSED, InboundEmailStatus.PENDING,
                                              InboundEmailStatus.PROCESSED]
    entry = OutboxEntry.objects.get(ref_id=ids[1])
    assert entry.attempts == 1 and "cannot read it" in entry.last_error
    monkeypatch.setattr(email_inbound, "email_parse", parse)
    inbound_emails_drain()
    assert InboundEmail.objects.get(pk=ids[1]).status == InboundEmailStatus.PROCESSED
    assert Message.objects.count() == 3


def test_a_drain_that_dies_mid_batch_leaves_nothing_and_the_next_processes_each_email_once(db, monkeypatch):
    from integrations import email_inbound

    ids = store_all(*(email(sender=f"p{n}@example.com", body=f"Text {n}") for n in range(4)))

    def dying(*args, **kwargs):
        raise SystemExit("the worker was killed")  # not an Exception: nothing catches it on the way out

    with monkeypatch.context() as patched:
        patched.setattr(email_inbound, "rows_update", dying)
        with pytest.raises(SystemExit):
            inbound_emails_drain()

    assert not Message.objects.exists() and not Conversation.objects.exists()
    assert OutboxEntry.objects.filter(ref_id__in=ids).count() == 4
    assert inbound_emails_drain() == 4
    assert inbound_emails_drain() == 0
    assert Message.objects.count() == Conversation.objects.count() == 4
    assert set(InboundEmail.objects.values_list("status", flat=True)) == {InboundEmailStatus.PROCESSED}


def test_a_batchs_statements_do_not_grow_with_its_emails(db):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    senders = [f"s{n}@example.com" for n in range(3)]
    store_all(*(email(sender=sender) for sender in senders))
    inbound_emails_drain()  # each sender has an open conversation now

    def statements(count: int) -> int:
        store_all(*(email(sender=senders[n % 3], subject=f"More {n}") for n in range(count)))
        with CaptureQueriesContext(connection) as queries:
            assert inbound_emails_drain() == count
        return len(queries)

    # The fewer of two tries each: a per-process cache (routing's configuration, business
    # hours) that expires during one of them adds its reload, which is not the batch's work.
    assert min(statements(3), statements(3)) == min(statements(12), statements(12))


def test_encoded_and_8bit_headers_are_read(db):
    raw = (b"From: =?utf-8?q?L=C3=B3pez=2C_Ana?= <ana@example.com>\r\n"
           b"To: =?utf-8?q?Soporte=2C_equipo?= <support@supportdesk.local>\r\n"
           b"Subject: Caf\xc3\xa9 fr\xc3\xado\r\nMessage-ID: <eight@example.com>\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n\r\nHola\r\n")

    row = receive(raw)

    assert row.status == InboundEmailStatus.PROCESSED
    contact = Contact.objects.get()
    assert (contact.email, contact.name) == ("ana@example.com", "López, Ana")
    assert row.conversation.subject == "Café frío"


def test_the_drain_waiting_for_a_contact_holds_none_of_a_higher_id(transactional_db):
    from tests.timeline.test_lock_order import rows_held_while_waiting

    lower, higher = sorted([ContactFactory(email="low@example.com"), ContactFactory(email="high@example.com")],
                           key=lambda contact: contact.pk)
    store_all(email(sender="high@example.com"), email(sender="low@example.com"))

    holding = rows_held_while_waiting(inbound_emails_drain, wait_for=lower, watch=[higher])

    assert holding == []
    assert Message.objects.count() == 2


def test_encoded_attachment_names_are_decoded_and_attachments_are_not_the_body(db):
    raw = (b"From: ana@example.com\r\nTo: support@supportdesk.local\r\nSubject: files\r\n"
           b"Message-ID: <files@example.com>\r\nMIME-Version: 1.0\r\n"
           b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
           b"--B\r\nContent-Type: text/plain; charset=utf-8\r\n"
           b'Content-Disposition: attachment; filename="notes.txt"\r\n\r\nnot the body\r\n'
           b"--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe body.\r\n"
           b'--B\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; '
           b'filename="=?UTF-8?B?w7xiZXIucGRm?="\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n'
           b"--B\r\nContent-Type: image/png\r\n"
           b"Content-Disposition: attachment; filename*=UTF-8''%C3%A9t%C3%A9.png\r\n\r\nxx\r\n--B--\r\n")

    receive(raw)

    message = Message.objects.get()
    assert message.body == "The body."
    names = [file["name"] for file in message.channel_metadata["attachments"]]
    assert names == ["notes.txt", "über.pdf", "été.png"]
