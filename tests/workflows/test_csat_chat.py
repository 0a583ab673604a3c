"""CSAT in the chat widget over the real socket stack and Redis channel layer: a resolved chat's
survey reaches the visitor's socket as a `chat.survey` frame in their language, comes back in
`ready` until answered, and a `rate` frame stores the answer (`rated`); bad answers get error
frames on a socket that stays open."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from conversations import services as chat_services
from conversations import widget
from conversations.models import Conversation
from routing.models import WorkItem
from supportdesk.push import flush
from supportdesk.routing import websocket_urlpatterns
from tests.factories import ContactFactory
from tests.scenarios import online_agent
from tests.workflows.csat_helpers import drain, resolve, settings_for
from workflows.surveys import services
from workflows.surveys.models import Survey, SurveyState

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("private_channel_layer")]


@pytest.fixture(autouse=True)
def _isolated(settings):
    settings.REDIS_KEY_PREFIX = f"test-{uuid.uuid4().hex}"
    settings.CELERY_TASK_ALWAYS_EAGER = True


def identified_chat(language: str = "es") -> tuple[str, Conversation, Any]:
    """A known customer's widget session, their chat assigned to an agent: (token, chat, agent user)."""
    contact = ContactFactory(preferred_language=language)
    session = widget.Session(contact_id=contact.pk)
    profile = online_agent(languages=[language])
    message = chat_services.visitor_message_send(session=session, body="Hola", client_id="m-1")
    chat_services.conversation_route(conversation_id=message.conversation_id)
    item = WorkItem.objects.get(conversation_id=message.conversation_id)
    if item.state == "offered":
        chat_services.offer_accept(item_id=item.pk, user=profile.user)
    flush()
    return widget.session_encode(session), Conversation.objects.get(pk=message.conversation_id), profile.user


async def connected(token: str) -> tuple[WebsocketCommunicator, dict[str, Any]]:
    socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/chat/?token={token}")
    is_open, _ = await socket.connect()
    assert is_open
    ready = await socket.receive_json_from(timeout=5)
    assert ready["type"] == "ready"
    return socket, ready


async def frame_of(socket: WebsocketCommunicator, kind: str) -> dict[str, Any]:
    await sync_to_async(flush)()
    while True:
        frame = await socket.receive_json_from(timeout=5)
        if frame["type"] == kind:
            return frame


def resolve_and_ask(conversation: Conversation, agent: Any) -> Survey:
    resolve(conversation, agent)
    drain()
    services.surveys_send_due()
    return Survey.objects.get(conversation=conversation)


def test_the_survey_reaches_the_open_widget_in_its_language_and_a_rate_frame_answers_it():
    settings_for("chat")
    token, conversation, agent = identified_chat(language="es")

    async def scenario():
        socket, ready = await connected(token)
        survey = await sync_to_async(resolve_and_ask)(conversation, agent)
        asked = await frame_of(socket, "chat.survey")
        await socket.send_json_to({"type": "rate", "survey_id": survey.pk, "score": 5, "comment": "Genial"})
        rated = await frame_of(socket, "rated")
        await socket.disconnect()
        return ready, survey, asked, rated

    ready, survey, asked, rated = async_to_sync(scenario)()

    assert ready["survey"] is None
    assert asked["survey_id"] == survey.pk and asked["conversation_id"] == conversation.pk
    assert asked["language"] == "es" and [score for score, _label in asked["scores"]] == [1, 2, 3, 4, 5]
    assert asked["question"] == "¿Qué tan satisfecho estás con la ayuda que recibiste?"
    assert asked["submit_label"] == "Enviar mi valoración"
    assert rated == {"type": "rated", "survey_id": survey.pk, "conversation_id": conversation.pk, "score": 5,
                     "thanks": rated["thanks"]} and rated["thanks"]
    survey.refresh_from_db()
    conversation.refresh_from_db()
    assert (survey.state, survey.score, survey.comment) == (SurveyState.ANSWERED, 5, "Genial")
    assert (conversation.rating, conversation.rating_comment) == (5, "Genial")


def test_a_survey_asked_while_the_widget_was_closed_comes_with_ready_until_answered():
    settings_for("chat")
    token, conversation, agent = identified_chat()
    survey = resolve_and_ask(conversation, agent)

    async def scenario():
        socket, ready = await connected(token)
        await socket.send_json_to({"type": "rate", "survey_id": survey.pk, "score": 3})
        await frame_of(socket, "rated")
        await socket.disconnect()
        again, ready_after = await connected(token)
        await again.disconnect()
        return ready, ready_after

    ready, ready_after = async_to_sync(scenario)()

    assert ready["survey"]["survey_id"] == survey.pk
    assert ready_after["survey"] is None


@pytest.mark.parametrize("frame, code", [
    ({"score": 9}, "invalid_score"),
    ({"score": "5", "survey_id": "1"}, "invalid_survey_id"),
    ({"score": 4, "comment": ["a list"]}, "invalid_comment"),
    ({"score": 4, "survey_id": 2**62}, "no_survey"),
])
def test_a_bad_rate_frame_gets_an_error_frame_and_stores_nothing(frame, code):
    settings_for("chat")
    token, conversation, agent = identified_chat()
    survey = resolve_and_ask(conversation, agent)

    async def scenario():
        socket, _ready = await connected(token)
        await socket.send_json_to({"type": "rate", "survey_id": survey.pk, **frame})
        error = await frame_of(socket, "error")
        await socket.send_json_to({"type": "rate", "survey_id": survey.pk, "score": 2})
        rated = await frame_of(socket, "rated")  # the socket is still open
        await socket.disconnect()
        return error, rated

    error, rated = async_to_sync(scenario)()

    assert error["code"] == code and error["in_reply_to"] == "rate" and error["message"]
    assert rated["score"] == 2


def test_a_visitor_cannot_answer_another_contacts_survey():
    settings_for("chat", min_days_between=0)
    _token, conversation, agent = identified_chat()
    survey = resolve_and_ask(conversation, agent)
    stranger = widget.session_encode(widget.Session(contact_id=ContactFactory().pk))

    async def scenario():
        socket, _ready = await connected(stranger)
        await socket.send_json_to({"type": "rate", "survey_id": survey.pk, "score": 1})
        error = await frame_of(socket, "error")
        await socket.disconnect()
        return error

    error = async_to_sync(scenario)()

    assert error["code"] == "no_survey"
    survey.refresh_from_db()
    assert survey.score is None
