"""What the server says to a customer, in the customer's language: the error frames of the
widget's socket and the refusals of its HTTP endpoints, in the contact's language, else the
widget's setting (carried to the socket in the session token), else the browser's, else English.
The catalogue test (tests/supportdesk/test_customer_texts.py) checks every such message is
translated; these check that the language reaches the place the message is made."""

from __future__ import annotations

import json
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from conversations import widget
from conversations.models import Message
from supportdesk.routing import websocket_urlpatterns
from tests.factories import ContactFactory
from timeline.models import ContactKind

SESSION_URL = "/widget/session"


@pytest.fixture(autouse=True)
def _isolated(settings):
    settings.REDIS_KEY_PREFIX = f"test-{uuid.uuid4().hex}"
    settings.CELERY_TASK_ALWAYS_EAGER = True


def _socket_answers(token: str, frames: list[dict], *, accept_language: str = "") -> list[dict]:
    """The first answer to each frame on a visitor's socket (after its `ready`)."""
    headers = [(b"accept-language", accept_language.encode())] if accept_language else []

    async def scenario() -> list[dict]:
        socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/chat/?token={token}",
                                       headers=headers)
        connected, _ = await socket.connect()
        assert connected
        assert (await socket.receive_json_from(timeout=5))["type"] == "ready"
        answers = []
        for frame in frames:
            await socket.send_json_to(frame)
            answers.append(await socket.receive_json_from(timeout=5))
        await socket.disconnect()
        return answers

    return async_to_sync(scenario)()


def _session_token(client, body: dict, *, accept_language: str = "") -> str:
    response = client.post(SESSION_URL, json.dumps(body), content_type="application/json",
                           HTTP_ACCEPT_LANGUAGE=accept_language)
    assert response.status_code == 200
    return response.json()["session"]


TOO_LONG = {"type": "message", "body": "far more than ten characters", "client_id": "long-1"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_channel_layer")
def test_a_spanish_visitor_is_told_their_message_is_too_long_in_spanish(client, settings):
    # given a host site whose widget is set to Spanish, in an English browser
    settings.CHAT_MESSAGE_MAX_CHARS = 10
    token = _session_token(client, {"language": "es"}, accept_language="en")

    # when the visitor sends a message over the limit
    [error] = _socket_answers(token, [TOO_LONG], accept_language="en")

    # then the refusal is in Spanish, and nothing was stored
    assert (error["type"], error["code"], error["in_reply_to"]) == ("error", "too_long", "message")
    assert error["message"] == "Un mensaje puede tener como máximo 10 caracteres."
    assert not Message.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_channel_layer")
def test_the_contacts_own_language_outranks_the_widget_and_the_browser(client, settings):
    settings.CHAT_MESSAGE_MAX_CHARS = 10
    ContactFactory(external_id="C-es", kind=ContactKind.CUSTOMER, preferred_language="es")
    identity = widget.identity_encode(widget.Identity(external_id="C-es", kind=ContactKind.CUSTOMER))
    token = _session_token(client, {"identity": identity, "language": "de"}, accept_language="fr")

    errors = _socket_answers(token, [TOO_LONG, {"type": "read", "sequence": 1}], accept_language="fr")

    assert [error["message"] for error in errors] == [
        "Un mensaje puede tener como máximo 10 caracteres.", "Todavía no hay ningún chat que marcar como leído."]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_channel_layer")
def test_without_a_setting_the_socket_speaks_the_browsers_language():
    token = widget.session_encode(widget.Session(visitor=uuid.uuid4().hex))

    errors = _socket_answers(token, [{"type": "message", "body": "  "}, {"type": "nonsense"}],
                             accept_language="de-AT,de;q=0.9")

    assert [error["code"] for error in errors] == ["empty_body", "unknown_type"]
    assert errors[0]["message"] == "Eine Nachricht braucht etwas Text."
    assert errors[1]["message"].startswith("Frame-Typen hier: ")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_channel_layer")
def test_english_stays_english(client, settings):
    settings.CHAT_MESSAGE_MAX_CHARS = 10
    token = _session_token(client, {}, accept_language="en-GB")

    [error] = _socket_answers(token, [TOO_LONG], accept_language="en-GB")

    assert error["message"] == "A message may have at most 10 characters."


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_channel_layer")
def test_a_refused_token_is_explained_in_the_browsers_language():
    async def scenario() -> dict:
        socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/chat/?token=forged",
                                       headers=[(b"accept-language", b"uk")])
        await socket.connect()
        error = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return error

    error = async_to_sync(scenario)()

    assert (error["code"], error["message"]) == ("token_invalid", "Токен сеансу чату недійсний.")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_channel_layer")
def test_a_spanish_visitor_over_their_rate_is_told_to_wait_in_spanish(client, settings):
    settings.CHAT_RATE_VISITOR = "1/60"
    token = _session_token(client, {"language": "es"})

    answers = _socket_answers(token, [{"type": "sync", "after": 0}, {"type": "sync", "after": 0}])

    assert answers[0]["type"] == "synced"
    assert answers[1]["code"] == "rate_limited"
    assert answers[1]["message"].startswith("Demasiados mensajes; espera ")


# --- the widget's HTTP endpoints ---------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("how", "body", "accept_language"), [
    ("the widget's setting", {"language": "ar"}, "en"),
    ("the browser", {}, "ar-EG,ar;q=0.9"),
    ("the browser, the body unreadable", "not json", "ar"),
])
def test_an_arabic_visitors_rate_limit_answer_is_in_arabic(client, settings, how, body, accept_language):
    settings.CHAT_RATE_CONNECT_IP = "1/60"
    data = body if isinstance(body, str) else json.dumps(body)
    client.post(SESSION_URL, json.dumps({}), content_type="application/json")

    refused = client.post(SESSION_URL, data, content_type="application/json", HTTP_ACCEPT_LANGUAGE=accept_language)

    assert refused.status_code == 429 and refused["Retry-After"]
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["message"].startswith("طلبات كثيرة جدًا؛ انتظر ")


@pytest.mark.django_db
def test_an_english_visitors_rate_limit_answer_stays_english(client, settings):
    settings.CHAT_RATE_CONNECT_IP = "1/60"
    client.post(SESSION_URL, json.dumps({}), content_type="application/json")

    refused = client.post(SESSION_URL, json.dumps({}), content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")

    assert refused.json()["error"]["message"].startswith("Too many requests; wait ")


@pytest.mark.django_db
def test_the_session_endpoints_refusals_are_in_the_visitors_language(client):
    bad_json = client.post(SESSION_URL, "{", content_type="application/json", HTTP_ACCEPT_LANGUAGE="fr")
    bad_field = client.post(SESSION_URL, json.dumps({"language": "it", "time_zone": 7}),
                            content_type="application/json", HTTP_ACCEPT_LANGUAGE="fr")
    bad_token = client.post(SESSION_URL, json.dumps({"language": "pl", "session": "forged"}),
                            content_type="application/json")

    assert bad_json.status_code == 400 and "Le corps doit être du JSON" in bad_json.json()["error"]["message"]
    assert bad_field.status_code == 400
    assert bad_field.json()["error"]["message"].startswith("time_zone deve essere il nome di un fuso orario IANA")
    assert bad_token.status_code == 401
    assert bad_token.json()["error"]["message"] == "Token sesji czatu jest nieprawidłowy."


@pytest.mark.django_db
def test_the_self_service_refusals_are_in_the_contacts_language(client):
    contact = ContactFactory(kind=ContactKind.CUSTOMER, preferred_language="tr")
    session = widget.session_encode(widget.Session(contact_id=contact.pk))

    def post(path: str, body: dict) -> dict:
        return client.post(f"/widget/self-service{path}", json.dumps({"session": session, **body}),
                           content_type="application/json", HTTP_ACCEPT_LANGUAGE="en").json()

    assert post("/answer", {"topic": "order_status", "confirm": "yes", "language": "de"})["error"]["message"] \
        == "confirm true veya false olmalıdır."
    assert post("/answer", {"topic": "order_status", "order_id": 987654})["error"]["message"] \
        == "Bu sipariş bulunamadı."  # not theirs, in the catalogue since the self-service
    assert post("/answer", {"topic": "weather"})["error"]["message"].startswith("topic şunlardan biri olmalıdır: ")
