"""The messaging channel (WhatsApp Cloud API shape): the webhook's handshake and signature, inbound
text, media and location stored once per message, replies sent through the fake provider as
text inside the 24-hour window and as a template outside it, and status reports applied."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta
from unittest import mock
from urllib.parse import urlencode

import hypothesis
import pytest
import requests
from django.db import OperationalError
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import strategies as st

from conversations import channels
from conversations.models import Channel, Conversation, DeliveryState, Message
from conversations.services import agent_reply
from integrations.models import WhatsAppDelivery
from integrations.whatsapp import inbound
from integrations.whatsapp.fake_server import FakeWhatsAppServer, inbound_payload, status_payload
from integrations.whatsapp.inbound import e164, whatsapp_drain
from integrations.whatsapp.outbound import window_state
from supportdesk import outbox
from tests.asgi_client import AsgiClient, AsgiResponse
from tests.conftest import free_port
from tests.factories import ContactFactory, SupervisorFactory
from timeline.models import Contact

URL = "/integrations/whatsapp/webhook/"
# The webhook stores a post from a thread of its own, in its own transaction, as it does when
# served (supportdesk.asgi_intake): tests of the endpoint use a transactional database.
endpoint = pytest.mark.django_db(transaction=True)


def signed(settings, payload: dict | bytes, *, secret: str | None = None) -> tuple[bytes, str]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return body, "sha256=" + hmac.new((secret or settings.WHATSAPP_APP_SECRET).encode(), body,
                                      hashlib.sha256).hexdigest()


def post(settings, payload: dict | bytes, *, secret: str | None = None) -> AsgiResponse:
    """Through the real ASGI application, as Meta posts."""
    body, signature = signed(settings, payload, secret=secret)
    return AsgiClient().post(URL, data=body, headers={"X-Hub-Signature-256": signature})


def store(settings, payload: dict) -> None:
    """A signed post stored as the webhook stores it (in the test's transaction)."""
    body, signature = signed(settings, payload)
    inbound.webhook_receive(body=body, signature=signature)


def receive(settings, payload: dict) -> None:
    """A signed post stored, then applied by the worker's drain."""
    store(settings, payload)
    whatsapp_drain()


@pytest.fixture
def provider(settings):
    server = FakeWhatsAppServer(port=free_port(), app_secret=settings.WHATSAPP_APP_SECRET, report_delay=0)
    server.start()
    settings.WHATSAPP_API_URL = server.url
    yield server
    server.stop()


# --- the webhook ---------------------------------------------------------------------------------------------


def _get(query: str) -> AsgiResponse:
    return AsgiClient().request("GET", URL, query_string=query)


def test_the_subscription_check_answers_the_challenge_only_for_the_verify_token(settings):
    ok = _get(urlencode({"hub.mode": "subscribe", "hub.verify_token": settings.WHATSAPP_VERIFY_TOKEN,
                         "hub.challenge": "1158201444"}))
    wrong = _get(urlencode({"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"}))

    assert (ok.status_code, ok.content) == (200, b"1158201444")
    assert ok["Content-Type"].startswith("text/plain")
    assert wrong.status_code == 403
    assert wrong.json()["error"]["message"] == "The verify token does not match."
    assert _get("").status_code == 403


@endpoint
def test_a_signed_post_is_stored_once_and_answered_200_then_duplicate(settings):
    payload = inbound_payload(sender="34600111222", text="hi", wamid="wamid.first")

    first, again = post(settings, payload), post(settings, payload)

    assert (first.status_code, first.json()) == (200, {"received": True, "duplicate": False})
    assert (again.status_code, again.json()) == (200, {"received": True, "duplicate": True})
    assert WhatsAppDelivery.objects.count() == 1


@endpoint
@pytest.mark.parametrize("signature", [None, "sha1=abc", "sha256=" + "0" * 64])
def test_an_unsigned_or_forged_post_is_401_and_stores_nothing(signature):
    headers = {"X-Hub-Signature-256": signature} if signature else {}
    response = AsgiClient().post(URL, data=json.dumps(inbound_payload(sender="34600111222", text="hi")).encode(),
                                 headers=headers)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    assert not WhatsAppDelivery.objects.exists()


@endpoint
def test_a_post_signed_with_another_secret_is_401(settings):
    assert post(settings, inbound_payload(sender="34600111222", text="hi"), secret="not-ours").status_code == 401


@endpoint
def test_without_an_app_secret_every_post_is_refused(settings):
    settings.WHATSAPP_APP_SECRET = ""
    response = AsgiClient().post(URL, data=b"{}", headers={"X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert response.status_code == 401
    assert "WHATSAPP_APP_SECRET" in response.json()["error"]["message"]


@endpoint
@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"object": "page", "entry": []}', b'{"object": 1}',
                                  b"\xff\xfe", b'{"object": "whatsapp_business_account", "entry": 1}'])
def test_a_signed_post_that_is_not_the_providers_shape_is_400(settings, body):
    response = post(settings, body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_payload"
    assert not WhatsAppDelivery.objects.exists()


@endpoint
def test_a_body_over_the_limit_is_413_before_its_signature_is_checked(settings):
    settings.WHATSAPP_WEBHOOK_MAX_BODY_BYTES = 1024
    payload = inbound_payload(sender="34600111222", text="x" * 2000)

    response = post(settings, payload)

    assert response.status_code == 413
    assert response.json()["error"] == {"code": "payload_too_large",
                                        "message": "The body is over the limit of 1024 bytes."}
    assert not WhatsAppDelivery.objects.exists()


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "HEAD"])
def test_other_methods_are_405_with_the_allowed_ones(method):
    response = AsgiClient().request(method, URL)

    assert response.status_code == 405
    assert response["Allow"] == "GET, POST"
    assert response.json()["error"]["code"] == "method_not_allowed"


@endpoint
def test_a_connection_lost_since_the_last_post_is_replaced_and_the_post_stored(settings):
    real_create = outbox.outbox_create_once
    calls = []

    def create_once_broken(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real_create(*args, **kwargs)

    with mock.patch("supportdesk.outbox.outbox_create_once", side_effect=create_once_broken):
        response = post(settings, inbound_payload(sender="34600111222", text="hi"))

    assert response.status_code == 200 and len(calls) == 2
    assert WhatsAppDelivery.objects.count() == 1


@endpoint
def test_a_database_that_stays_down_gets_503_with_retry_after(settings):
    with mock.patch("supportdesk.outbox.outbox_create_once", side_effect=OperationalError("db down")):
        response = post(settings, inbound_payload(sender="34600111222", text="hi"))

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert response["Retry-After"] == str(settings.DATABASE_UNAVAILABLE_RETRY_AFTER_SECONDS)


@endpoint
def test_a_bug_behind_the_webhook_answers_in_the_error_shape_not_a_bare_500(settings):
    with mock.patch("integrations.whatsapp.inbound.webhook_receive", side_effect=RuntimeError("bug")):
        response = post(settings, inbound_payload(sender="34600111222", text="hi"))

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"


@endpoint
@hypothesis.settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@hypothesis.given(body=st.binary(max_size=300) | st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20).map(lambda value: json.dumps({"object": "whatsapp_business_account",
                                                 "entry": [value]}).encode()))
def test_no_signed_post_ever_gets_a_5xx(settings, body):
    response = post(settings, body)

    assert response.status_code in {200, 400}, response.content
    assert response["Content-Type"] == "application/json"


# --- inbound ------------------------------------------------------------------------------------------------


def test_a_text_becomes_a_messaging_conversation_of_a_contact_with_the_number_in_e164(db, settings):
    receive(settings, inbound_payload(sender="34600111222", name="Lucía", text="¿Dónde está mi pedido?"))

    contact = Contact.objects.get(phone="+34600111222")
    assert (contact.name, contact.external_id) == ("Lucía", "whatsapp:+34600111222")
    conversation = Conversation.objects.get(contact=contact)
    assert conversation.channel == Channel.MESSAGING
    assert Message.objects.get(conversation=conversation).body == "¿Dónde está mi pedido?"


def test_the_same_person_on_another_channel_is_the_same_contact(db, settings):
    known = ContactFactory(phone="+34600111222", email="lucia@example.com")

    receive(settings, inbound_payload(sender="34600111222", text="Hola"))

    assert Conversation.objects.get().contact_id == known.pk


def test_a_post_or_a_message_sent_again_is_stored_once(db, settings):
    payload = inbound_payload(sender="34600111222", text="Hola", wamid="wamid.same")
    receive(settings, payload)
    receive(settings, payload)
    resent = inbound_payload(sender="34600111222", text="Hola", wamid="wamid.same")  # another envelope
    resent["entry"][0]["id"] = "another"
    receive(settings, resent)

    assert WhatsAppDelivery.objects.count() == 2
    assert Message.objects.count() == 1


def test_messages_join_the_contacts_open_conversation(db, settings):
    receive(settings, inbound_payload(sender="34600111222", text="Hola"))
    receive(settings, inbound_payload(sender="34600111222", text="¿Sigue ahí?"))

    assert Conversation.objects.count() == 1 and Message.objects.count() == 2


def test_a_location_and_an_image_are_shown_as_what_they_are(db, settings):
    receive(settings, inbound_payload(sender="34600111222", location={
        "latitude": 40.4168, "longitude": -3.7038, "name": "Casa", "address": "Calle Mayor 1"}))
    receive(settings, inbound_payload(sender="34600111222", image={"caption": "The broken bag"}))

    location, image = Message.objects.order_by("sequence")
    assert location.body.startswith("📍 Casa, Calle Mayor 1 (40.4168, -3.7038)")
    assert "openstreetmap.org/?mlat=40.4168&mlon=-3.7038" in location.body
    assert location.channel_metadata["whatsapp"]["location"]["name"] == "Casa"
    assert image.body == "[Image] The broken bag"
    assert image.channel_metadata["whatsapp"]["media"]["mime_type"] == "image/jpeg"


@pytest.mark.parametrize("number, expected", [
    ("34600111222", "+34600111222"), ("+34 600 111 222", "+34600111222"), ("12", None), ("abc", None)])
def test_numbers_become_e164(number, expected):
    assert e164(number) == expected


# --- outbound -----------------------------------------------------------------------------------------------


def _conversation(settings) -> Conversation:
    receive(settings, inbound_payload(sender="34600111222", text="Hola"))
    return Conversation.objects.get()


def _reply(conversation: Conversation, body: str = "Su pedido llega en 5 minutos.") -> Message:
    message = agent_reply(conversation_id=conversation.pk, user=SupervisorFactory(), body=body)
    channels.outbound_drain()
    message.refresh_from_db()
    return message


def test_a_reply_inside_the_window_goes_as_text_and_its_reports_come_back(db, settings, provider):
    conversation = _conversation(settings)
    assert window_state(conversation).open

    message = _reply(conversation)

    assert message.delivery_state == DeliveryState.SENT
    sent = provider.state.sent[-1]
    assert (sent["type"], sent["to"], sent["text"]["body"]) == ("text", "34600111222",
                                                                "Su pedido llega en 5 minutos.")
    assert message.delivery_reference == sent["id"]
    for status in ("delivered", "read", "delivered"):  # a late "delivered" does not undo "read"
        receive(settings, status_payload(wamid=sent["id"], recipient="34600111222", status=status))
    message.refresh_from_db()
    assert message.delivery_state == DeliveryState.READ


def test_a_reply_outside_the_window_goes_as_the_template_in_the_conversations_language(db, settings, provider):
    conversation = _conversation(settings)
    Message.objects.filter(conversation=conversation).update(created_at=timezone.now() - timedelta(hours=25))
    Conversation.objects.filter(pk=conversation.pk).update(language="es")
    conversation.refresh_from_db()
    assert not window_state(conversation).open

    _reply(conversation)

    sent = provider.state.sent[-1]
    assert sent["type"] == "template"
    assert sent["template"]["name"] == settings.WHATSAPP_TEMPLATE
    assert sent["template"]["language"] == {"code": "es"}
    assert sent["template"]["components"][0]["parameters"][0]["text"] == "Su pedido llega en 5 minutos."


def test_the_workspace_says_which_applies(db, settings, client):
    conversation = _conversation(settings)
    client.force_login(SupervisorFactory())

    inside = client.get(f"/desk/conversations/{conversation.pk}/").content.decode()
    Message.objects.filter(conversation=conversation).update(created_at=timezone.now() - timedelta(hours=25))
    outside = client.get(f"/desk/conversations/{conversation.pk}/").content.decode()

    assert 'data-testid="channel-hint"' in inside and "Within the 24-hour window" in inside
    assert "Outside the 24-hour window" in outside and settings.WHATSAPP_TEMPLATE in outside


def test_a_failed_report_marks_the_reply_failed_with_the_providers_reason(db, settings, provider):
    conversation = _conversation(settings)
    message = _reply(conversation)

    receive(settings, status_payload(wamid=message.delivery_reference, recipient="34600111222", status="failed",
                                     error={"code": 131026, "title": "Message undeliverable"}))

    message.refresh_from_db()
    assert (message.delivery_state, message.delivery_detail) == (DeliveryState.FAILED,
                                                                 "131026 Message undeliverable")


def test_a_reply_the_provider_refuses_fails_and_one_it_cannot_take_now_waits(db, settings, provider):
    conversation = _conversation(settings)
    settings.WHATSAPP_API_URL = provider.url + "/nowhere"  # 404 with an error: refused

    refused = _reply(conversation, "uno")
    assert refused.delivery_state == DeliveryState.FAILED and "WhatsApp refused" in refused.delivery_detail

    settings.WHATSAPP_API_URL = f"http://127.0.0.1:{free_port()}"  # nobody answers: try again later
    waiting = _reply(conversation, "dos")
    assert waiting.delivery_state == DeliveryState.QUEUED

    settings.WHATSAPP_API_URL = provider.url
    channels.outbound_drain()
    waiting.refresh_from_db()
    assert waiting.delivery_state == DeliveryState.SENT


def test_a_retried_send_is_one_message_at_the_provider(db, settings, provider):
    for _attempt in range(2):
        answer = requests.post(f"{provider.url}/1/messages", timeout=5, headers={"Idempotency-Key": "k1"},
                               json={"messaging_product": "whatsapp", "to": "34600111222", "type": "text",
                                     "text": {"body": "hi"}})
        assert answer.status_code == 200
    assert len(provider.state.sent) == 1


def test_the_fake_provider_reports_a_replys_statuses_to_the_desks_webhook_over_http(settings, asgi_server):
    server = FakeWhatsAppServer(port=free_port(), app_secret=settings.WHATSAPP_APP_SECRET, report_delay=0,
                                webhook_url=asgi_server.url + URL)
    server.start()
    settings.WHATSAPP_API_URL = server.url
    try:
        message = _reply(_conversation(settings))
        deadline = time.monotonic() + 30
        while WhatsAppDelivery.objects.count() < 4 and time.monotonic() < deadline:  # the message + 3 reports
            time.sleep(0.05)
    finally:
        server.stop()
    whatsapp_drain()
    message.refresh_from_db()
    assert message.delivery_state == DeliveryState.READ


def test_a_queue_that_links_new_emails_does_not_split_whatsapp_messages(db, settings):
    from conversations.services import conversation_route
    from routing.models import Queue, WhileOpen, WorkItem

    receive(settings, inbound_payload(sender="34600111222", text="Hola"))
    conversation = Conversation.objects.get()
    conversation_route(conversation_id=conversation.pk)
    Queue.objects.filter(pk=WorkItem.objects.get(conversation_id=conversation.pk).queue_id).update(
        new_email_while_open=WhileOpen.LINK)

    receive(settings, inbound_payload(sender="34600111222", text="¿Sigue ahí?"))

    assert Conversation.objects.count() == 1


def test_a_template_reply_takes_no_line_breaks(db, settings, provider):
    conversation = _conversation(settings)
    Message.objects.filter(conversation=conversation).update(created_at=timezone.now() - timedelta(hours=25))

    _reply(conversation, "Hola Lucía,\n\n\tsu pedido    llega hoy.")

    assert provider.state.sent[-1]["template"]["components"][0]["parameters"][0]["text"] == \
        "Hola Lucía, su pedido llega hoy."


@pytest.mark.parametrize("value", [
    {"messages": 7, "statuses": "x", "contacts": 3},
    {"contacts": [{"wa_id": "34600111222", "profile": "Lucía"}], "messages": [1, None]},
    {"contacts": [{"wa_id": "34600111222", "profile": {"name": 5}}]},
])
def test_a_signed_post_with_odd_types_inside_is_applied_as_far_as_it_goes(db, settings, value):
    from integrations.whatsapp.fake_server import envelope

    receive(settings, envelope(value))

    row = WhatsAppDelivery.objects.get()
    assert row.processed_at is not None
    from supportdesk.models import OutboxEntry
    assert not OutboxEntry.objects.filter(consumer="integrations.whatsapp").exists()


def test_an_unconfigured_whatsapp_sends_nothing(settings):
    from django.apps import apps

    previous = channels._transports.pop(Channel.MESSAGING, None)
    settings.WHATSAPP_APP_SECRET = ""
    try:
        apps.get_app_config("integrations").ready()
        assert not channels.delivers(Channel.MESSAGING)
    finally:
        if previous is not None:
            channels._transports[Channel.MESSAGING] = previous


def test_a_message_sent_again_after_its_conversation_closed_is_not_stored_again(db, settings):
    from conversations.services import conversation_status_set

    receive(settings, inbound_payload(sender="34600111222", text="Hola", wamid="wamid.once"))
    conversation_status_set(conversation=Conversation.objects.get(), status="resolved")
    resent = inbound_payload(sender="34600111222", text="Hola", wamid="wamid.once")
    resent["entry"][0]["id"] = "a later delivery"
    receive(settings, resent)

    assert Message.objects.count() == 1 and Conversation.objects.get().status == "resolved"


# --- processing in batches ------------------------------------------------------------------------------------


def test_a_batch_stores_each_senders_messages_in_their_own_contacts_conversation(db, settings):
    known = ContactFactory(phone="+34 600 111 222")
    for sender, text in [("34600111222", "uno"), ("34600333444", "dos"), ("34600111222", "tres"),
                         ("34600555666", "cuatro")]:
        store(settings, inbound_payload(sender=sender, name=f"Writer {sender[-3:]}", text=text))

    whatsapp_drain()  # one batch

    by_contact = {conversation.contact.phone: [m.body for m in conversation.messages.order_by("sequence")]
                  for conversation in Conversation.objects.select_related("contact")}
    assert by_contact == {known.phone: ["uno", "tres"], "+34600333444": ["dos"], "+34600555666": ["cuatro"]}
    assert Contact.objects.get(phone="+34600333444").name == "Writer 444"
    assert not WhatsAppDelivery.objects.filter(processed_at__isnull=True).exists()


def test_the_same_message_twice_in_one_batch_is_stored_once(db, settings):
    payload = inbound_payload(sender="34600111222", text="Hola", wamid="wamid.twice")
    store(settings, payload)
    resent = inbound_payload(sender="34600111222", text="Hola", wamid="wamid.twice")
    resent["entry"][0]["id"] = "another envelope"
    store(settings, resent)
    twice_in_one_post = inbound_payload(sender="34600111222", text="Otra", wamid="wamid.inside")
    twice_in_one_post["entry"][0]["changes"][0]["value"]["messages"] *= 2
    store(settings, twice_in_one_post)

    whatsapp_drain()

    assert sorted(Message.objects.values_list("body", flat=True)) == ["Hola", "Otra"]
    outcomes = list(WhatsAppDelivery.objects.order_by("pk").values_list("outcome", flat=True))
    assert "stored before" in outcomes[1] and "stored before" in outcomes[2]


def test_a_batch_that_fails_midway_loses_nothing_and_stores_nothing_twice(db, settings):
    for number in range(4):
        store(settings, inbound_payload(sender=f"3460011122{number}", text=f"m{number}", wamid=f"wamid.{number}"))
    real_receive = inbound.inbound_message_receive

    def fails_on_the_third(**kwargs):
        if kwargs["provider_id"] == "wamid.2":
            raise RuntimeError("the worker died here")
        return real_receive(**kwargs)

    with mock.patch("integrations.whatsapp.inbound.inbound_message_receive", side_effect=fails_on_the_third):
        whatsapp_drain()  # the batch is rolled back, then each post is tried alone: one fails
    assert sorted(Message.objects.values_list("body", flat=True)) == ["m0", "m1", "m3"]
    from supportdesk.models import OutboxEntry

    assert OutboxEntry.objects.filter(consumer=inbound.CONSUMER).count() == 1
    whatsapp_drain()  # the cause gone, the one left is applied; the others are not applied again

    assert sorted(Message.objects.values_list("body", flat=True)) == ["m0", "m1", "m2", "m3"]
    assert not OutboxEntry.objects.filter(consumer=inbound.CONSUMER).exists()


@endpoint
def test_a_batch_waiting_for_one_senders_contact_holds_none_of_a_higher_id(settings):
    # The lock order of timeline.locks: the batch's contacts at once, by id, not in the posts' order.
    from tests.timeline.test_lock_order import lower_and_higher, rows_held_while_waiting

    lower, higher = lower_and_higher(ContactFactory)
    Contact.objects.filter(pk=lower.pk).update(phone="+34600111222")
    Contact.objects.filter(pk=higher.pk).update(phone="+34600333444")
    store(settings, inbound_payload(sender="34600333444", text="the higher id's, first"))
    store(settings, inbound_payload(sender="34600111222", text="the lower id's"))

    holding = rows_held_while_waiting(whatsapp_drain, wait_for=lower, watch=[higher])

    assert holding == []
    assert Message.objects.count() == 2
