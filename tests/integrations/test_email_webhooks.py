"""Inbound email from providers' webhooks (django-anymail): Mailgun's signed posts and
Postmark's basic-auth posts become email conversations; forged, unsigned and replayed posts
store nothing (twice)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
from django.test import Client

from conversations.models import Conversation, DeliveryState, Message
from integrations.email_inbound import inbound_emails_drain
from integrations.models import InboundEmail

pytestmark = pytest.mark.django_db

MAILGUN = "/integrations/email/mailgun/inbound_mime/"
POSTMARK = "/integrations/email/postmark/inbound/"
RAW = ("From: Ana Lopez <ana@example.com>\r\nTo: support@supportdesk.local\r\nSubject: Late order\r\n"
       "Message-ID: <mg-1@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
       "My order is late.\r\n")


def mailgun_post(settings, *, body_mime: str = RAW, key: str | None = None, timestamp: str | None = None,
                 token: str | None = None):
    timestamp = timestamp or str(int(time.time()))
    token = token or uuid.uuid4().hex + uuid.uuid4().hex[:18]  # Mailgun's are 50 characters, each its own
    signature = hmac.new((key or settings.MAILGUN_WEBHOOK_SIGNING_KEY).encode(), f"{timestamp}{token}".encode(),
                         hashlib.sha256).hexdigest()
    return Client().post(MAILGUN, {"body-mime": body_mime, "timestamp": timestamp, "token": token,
                                   "signature": signature, "recipient": "support@supportdesk.local",
                                   "sender": "ana@example.com"})


def postmark_event(**fields) -> dict:
    return {"FromFull": {"Email": "bruno@example.com", "Name": "Bruno"},
            "ToFull": [{"Email": "support@supportdesk.local", "Name": ""}], "Subject": "Refund",
            "MessageID": "pm-22", "TextBody": "I want a refund.",
            "Headers": [{"Name": "Message-ID", "Value": "<pm-original-22@example.com>"}],
            "OriginalRecipient": "support@supportdesk.local", **fields}


def postmark_post(event: dict, *, auth: str | None):
    headers = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(auth.encode()).decode()} if auth else {}
    return Client().post(POSTMARK, json.dumps(event), content_type="application/json", **headers)


def test_a_signed_mailgun_post_becomes_an_email_conversation(settings):
    response = mailgun_post(settings)
    inbound_emails_drain()

    assert response.status_code == 200
    row = InboundEmail.objects.get()
    assert (row.source, row.message_id, row.envelope_from) == ("mailgun", "<mg-1@example.com>", "ana@example.com")
    assert Message.objects.get(conversation=Conversation.objects.get(channel="email")).body == "My order is late."


def test_a_replayed_mailgun_post_stores_nothing_twice(settings):
    token, timestamp = uuid.uuid4().hex, str(int(time.time()))
    for _attempt in range(3):
        assert mailgun_post(settings, token=token, timestamp=timestamp).status_code == 200
    inbound_emails_drain()

    assert InboundEmail.objects.count() == 1 and Message.objects.count() == 1


@pytest.mark.parametrize("forged", [
    {"key": "not-the-key"},
    {"fields": {"body-mime": RAW}},
    {"fields": {"body-mime": RAW, "timestamp": "2", "token": "b" * 50, "signature": "0" * 64}},
])
def test_a_forged_mailgun_post_is_refused_and_stores_nothing(settings, forged):
    if "key" in forged:
        response = mailgun_post(settings, key=forged["key"])
    else:
        response = Client().post(MAILGUN, forged["fields"])

    assert response.status_code == 400
    assert not InboundEmail.objects.exists()


def test_a_postmark_post_with_its_basic_auth_becomes_an_email_conversation(settings):
    response = postmark_post(postmark_event(), auth=settings.POSTMARK_INBOUND_BASIC_AUTH)
    inbound_emails_drain()

    assert response.status_code == 200
    row = InboundEmail.objects.get()
    assert (row.source, row.message_id) == ("postmark", "<pm-original-22@example.com>")
    conversation = Conversation.objects.get()
    assert (conversation.contact.email, conversation.subject) == ("bruno@example.com", "Refund")
    assert Message.objects.get().body == "I want a refund."


def test_a_postmark_post_without_a_message_id_is_kept_once_by_postmarks_id(settings):
    event = postmark_event(Headers=[], Attachments=[
        {"Name": "a.txt", "ContentType": "text/plain", "Content": base64.b64encode(b"hi").decode()}])
    for _attempt in range(2):
        assert postmark_post(event, auth=settings.POSTMARK_INBOUND_BASIC_AUTH).status_code == 200

    assert InboundEmail.objects.count() == 1


@pytest.mark.parametrize("auth", [None, "desk:wrong", "someone:dev-postmark-inbound-secret"])
def test_a_postmark_post_without_the_right_basic_auth_is_refused(settings, auth):
    assert postmark_post(postmark_event(), auth=auth).status_code == 400
    assert not InboundEmail.objects.exists()


def test_malformed_provider_posts_are_a_clear_4xx(settings):
    not_json = Client().post(POSTMARK, "{not json", content_type="application/json",
                             HTTP_AUTHORIZATION="Basic " + base64.b64encode(
                                 settings.POSTMARK_INBOUND_BASIC_AUTH.encode()).decode())
    assert 400 <= not_json.status_code < 500
    assert Client().get(MAILGUN).status_code == 405
    assert not InboundEmail.objects.exists()


def test_a_mailgun_signature_is_good_only_while_fresh(settings):
    stale = mailgun_post(settings, timestamp=str(int(time.time()) - 3600))

    assert stale.status_code == 400
    assert not InboundEmail.objects.exists()


def test_a_captured_mailgun_signature_is_refused_on_another_body(settings):
    token, timestamp = uuid.uuid4().hex, str(int(time.time()))
    assert mailgun_post(settings, token=token, timestamp=timestamp).status_code == 200
    forged = mailgun_post(settings, token=token, timestamp=timestamp,
                          body_mime=RAW.replace("My order is late.", "Send me a refund."))
    inbound_emails_drain()

    assert forged.status_code == 400
    assert InboundEmail.objects.count() == 1 and Message.objects.get().body == "My order is late."


# --- providers' delivery reports on the desk's replies (anymail's tracking webhooks) -----------------


@pytest.fixture
def sent_reply(smtp_sink, db):
    """An agent's email reply as the desk sent it (through the local sink: what the provider relays)."""
    from email import message_from_string

    from integrations.mail_sink import MailboxMessage
    from tests.factories import SupervisorFactory
    from tests.integrations.test_email_channel import _agent_reply_sent, email, receive

    reply = _agent_reply_sent(receive(email()).conversation, SupervisorFactory())
    headers = message_from_string(MailboxMessage.objects.get().raw)
    return reply, headers


def mailgun_tracking(settings, event: dict, *, key: str | None = None):
    timestamp, token = str(int(time.time())), uuid.uuid4().hex
    signature = hmac.new((key or settings.MAILGUN_WEBHOOK_SIGNING_KEY).encode(), f"{timestamp}{token}".encode(),
                         hashlib.sha256).hexdigest()
    body = {"signature": {"timestamp": timestamp, "token": token, "signature": signature},
            "event-data": {"timestamp": time.time(), "id": uuid.uuid4().hex, **event}}
    return Client().post("/integrations/email/mailgun/tracking/", json.dumps(body),
                         content_type="application/json")


def test_the_reply_carries_its_reference_for_the_providers_reports(sent_reply):
    reply, headers = sent_reply
    assert json.loads(headers["X-Mailgun-Variables"]) == {"desk_reference": reply.delivery_reference}
    assert "".join(headers["X-PM-Metadata-desk_reference"].split()) == reply.delivery_reference  # unfolded


def test_mailguns_reports_move_the_reply_to_delivered_then_read_and_never_back(settings, sent_reply):
    reply, _headers = sent_reply
    variables = {"desk_reference": reply.delivery_reference}
    delivered = {"event": "delivered", "user-variables": variables,
                 "message": {"headers": {"message-id": "mailgun-own@mg"}}}
    assert mailgun_tracking(settings, delivered).status_code == 200
    reply.refresh_from_db()
    assert reply.delivery_state == DeliveryState.DELIVERED
    mailgun_tracking(settings, {"event": "opened", "user-variables": variables})
    mailgun_tracking(settings, {"event": "delivered", "user-variables": variables})  # late: changes nothing
    reply.refresh_from_db()
    assert reply.delivery_state == DeliveryState.READ


def test_a_mailgun_report_without_variables_finds_the_reply_by_its_message_id(settings, sent_reply):
    reply, _headers = sent_reply
    message_id = reply.delivery_reference.strip("<>")
    mailgun_tracking(settings, {"event": "failed", "severity": "permanent",
                                "delivery-status": {"description": "No such mailbox", "code": 550},
                                "message": {"headers": {"message-id": message_id}}})
    reply.refresh_from_db()
    assert reply.delivery_state == DeliveryState.FAILED


def test_a_forged_mailgun_report_changes_nothing(settings, sent_reply):
    reply, _headers = sent_reply
    response = mailgun_tracking(settings, {"event": "opened", "user-variables": {
        "desk_reference": reply.delivery_reference}}, key="not-the-key")
    assert response.status_code == 400
    reply.refresh_from_db()
    assert reply.delivery_state == DeliveryState.SENT


def test_postmarks_reports_need_its_basic_auth_and_a_hard_bounce_fails_the_reply(settings, sent_reply):
    reply, _headers = sent_reply
    bounce = {"RecordType": "Bounce", "Type": "HardBounce", "MessageID": "pm-own-id",
              "Description": "Unknown user", "Details": "smtp;550 5.1.1 unknown", "Email": "ana@example.com",
              "BouncedAt": "2026-12-01T10:00:00Z",
              "Metadata": {"desk_reference": reply.delivery_reference}}
    url = "/integrations/email/postmark/tracking/"
    assert Client().post(url, json.dumps(bounce), content_type="application/json").status_code == 400
    auth = "Basic " + base64.b64encode(settings.POSTMARK_INBOUND_BASIC_AUTH.encode()).decode()
    response = Client().post(url, json.dumps(bounce), content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200
    reply.refresh_from_db()
    assert reply.delivery_state == DeliveryState.FAILED and "Unknown user" in reply.delivery_detail
