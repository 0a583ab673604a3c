"""`/api/v1/ratings/`: answered surveys, filtered by agent, queue, language, contact kind, channel
and dates; supervisors see all of them, agents those of their own conversations, others none."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import (
    AgentFactory,
    ContactFactory,
    ConversationFactory,
    CourierFactory,
    IntegrationFactory,
    SupervisorFactory,
    UserFactory,
)
from workflows.surveys.models import Survey, SurveyState

pytestmark = pytest.mark.django_db

RATINGS = "/api/v1/ratings/"
_events = count(1)


def rating(*, agent=None, score=4, channel="chat", queue="general", language="es", contact=None,
           rated_at=None, answered=True) -> Survey:
    contact = contact or ContactFactory()
    now = rated_at or timezone.now()
    return Survey.objects.create(
        conversation=ConversationFactory(contact=contact, channel=channel), contact=contact,
        resolution_event_id=next(_events), channel=channel, queue_key=queue, agent=agent, language=language,
        state=SurveyState.ANSWERED if answered else SurveyState.SENT, due_at=now, sent_at=now,
        score=score if answered else None, rated_at=now if answered else None,
        changed_at=now if answered else None)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def surveys(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["survey"] for row in response.json()["results"]]


@pytest.fixture
def world():
    agent, other = AgentFactory(), AgentFactory()
    now = timezone.now()
    rows = {
        "mine_es_chat": rating(agent=agent, language="es", channel="chat", queue="chat.es", rated_at=now),
        "mine_en_email": rating(agent=agent, language="en", channel="email", queue="email",
                                rated_at=now - timedelta(days=3), score=1),
        "other_courier": rating(agent=other, contact=CourierFactory(), channel="messaging", queue="couriers",
                                rated_at=now - timedelta(days=10)),
        "unanswered": rating(agent=agent, answered=False),
    }
    return agent, other, {name: row.pk for name, row in rows.items()}


def test_a_supervisor_sees_every_answered_rating_newest_first(world):
    _agent, _other, rows = world

    found = surveys(client_for(SupervisorFactory()).get(RATINGS))

    assert found == [rows["mine_es_chat"], rows["mine_en_email"], rows["other_courier"]]


def test_an_agent_sees_only_the_ratings_of_their_own_conversations(world):
    agent, other, rows = world

    assert surveys(client_for(agent).get(RATINGS)) == [rows["mine_es_chat"], rows["mine_en_email"]]
    assert surveys(client_for(other).get(RATINGS)) == [rows["other_courier"]]
    assert client_for(other).get(f"{RATINGS}{rows['mine_es_chat']}/").status_code == 404


@pytest.mark.parametrize("user, status", [
    (None, 401), (IntegrationFactory, 403), (lambda: UserFactory(is_staff=True), 403)])
def test_everyone_else_is_refused(world, user, status):
    client = APIClient() if user is None else client_for(user())

    assert client.get(RATINGS).status_code == status


@pytest.mark.parametrize("query, expected", [
    ("channel=email", ["mine_en_email"]),
    ("queue=couriers", ["other_courier"]),
    ("language=es", ["mine_es_chat", "other_courier"]),
    ("contact_kind=courier", ["other_courier"]),
    ("score=1", ["mine_en_email"]),
])
def test_filters(world, query, expected):
    _agent, _other, rows = world

    found = surveys(client_for(SupervisorFactory()).get(f"{RATINGS}?{query}"))

    assert found == [rows[name] for name in expected]


def test_the_agent_and_date_filters(world):
    agent, _other, rows = world
    supervisor = client_for(SupervisorFactory())
    since = (timezone.now() - timedelta(days=5)).isoformat()

    mine = [rows["mine_es_chat"], rows["mine_en_email"]]
    assert surveys(supervisor.get(RATINGS, {"agent": agent.pk})) == mine
    assert surveys(supervisor.get(RATINGS, {"rated_after": since})) == mine
    assert surveys(supervisor.get(RATINGS, {"rated_before": since})) == [rows["other_courier"]]


@pytest.mark.parametrize("query", ["channel=fax", "agent=abc", "rated_after=yesterday", "contact_kind=robot",
                                   "cursor=garbage"])
def test_a_bad_filter_is_a_400(world, query):
    response = client_for(SupervisorFactory()).get(f"{RATINGS}?{query}")

    assert response.status_code == 400


def test_a_rating_shows_its_conversation_contact_kind_and_comment(world):
    _agent, _other, rows = world
    Survey.objects.filter(pk=rows["mine_es_chat"]).update(comment="Muy amable")

    body = client_for(SupervisorFactory()).get(f"{RATINGS}{rows['mine_es_chat']}/").json()

    assert body["comment"] == "Muy amable" and body["score"] == 4 and body["contact_kind"] == "customer"
    assert body["channel"] == "chat" and body["queue"] == "chat.es" and body["language"] == "es"


def test_the_ratings_are_in_the_openapi_schema(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    parameters = {p["name"] for p in schema["paths"][RATINGS]["get"]["parameters"]}
    assert {"agent", "queue", "language", "contact_kind", "channel", "rated_after", "rated_before"} <= parameters
