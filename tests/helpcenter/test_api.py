"""The workspace's article search API: agents and supervisors only, in the customer's language."""

from __future__ import annotations

import pytest
from django.test import Client

from conversations.models import ContactReason
from tests.factories import AgentFactory, SupervisorFactory, UserFactory

URL = "/api/v1/help/articles/"


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.django_db
def test_strangers_are_refused(help_center):
    assert _client().get(URL, {"q": "pedido", "language": "es"}).status_code == 401
    assert _client(UserFactory()).get(URL, {"q": "pedido", "language": "es"}).status_code == 403
    assert _client(UserFactory(is_staff=True)).get(URL, {"q": "pedido", "language": "es"}).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("make_user", [AgentFactory, SupervisorFactory])
def test_an_agent_or_supervisor_gets_titles_absolute_urls_and_snippets(help_center, settings, make_user):
    settings.DESK_PUBLIC_URL = "https://help.example.com"

    response = _client(make_user()).get(URL, {"q": "devolucion", "language": "es"})

    assert response.status_code == 200
    body = response.json()
    assert body["language"] == "es"
    assert body["results"][0] == {
        "title": "Devolución del dinero y reembolsos",
        "url": "https://help.example.com/help/es/payments/reembolsos/",
        "snippet": "El reembolso llega a tu tarjeta en 3 a 5 días laborables.",
        "key": "refunds",  # as a reply records the article it linked (conversations.suggestions)
    }
    assert [result["title"] for result in body["results"]] == ["Devolución del dinero y reembolsos",
                                                              "Cupones de descuento"]


@pytest.mark.django_db
def test_the_articles_of_a_contact_reason(help_center):
    reason = ContactReason.objects.create(key="refund", label="Refund")
    help_center.versions["refunds:es"].article.contact_reasons.add(reason)

    body = _client(AgentFactory()).get(URL, {"contact_reason": "refund", "language": "es"}).json()

    assert [result["title"] for result in body["results"]] == ["Devolución del dinero y reembolsos"]


@pytest.mark.django_db
@pytest.mark.parametrize(("params", "code"), [
    ({"q": "pedido"}, "unknown_language"),
    ({"q": "pedido", "language": "zz"}, "unknown_language"),
    ({"q": "p", "language": "es"}, "query_too_short"),
    ({"language": "es"}, "query_too_short"),
    ({"q": "p" * 101, "language": "es"}, "query_too_long"),
])
def test_bad_input_is_a_400_with_a_message(help_center, params, code):
    response = _client(AgentFactory()).get(URL, params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


@pytest.mark.django_db
def test_a_bad_limit_is_the_default_and_a_big_one_is_capped(help_center):
    client = _client(AgentFactory())

    assert client.get(URL, {"q": "devolucion", "language": "es", "limit": "many"}).status_code == 200
    assert len(client.get(URL, {"q": "devolucion", "language": "es", "limit": "1"}).json()["results"]) == 1
    assert client.get(URL, {"q": "devolucion", "language": "es", "limit": "9999"}).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(("params", "code"), [
    ({"q": "pe\x00dido", "language": "es"}, "invalid_query"),
    ({"contact_reason": "re\x00fund", "language": "es"}, "unknown_contact_reason"),
    ({"language": "e\x00s", "q": "pedido"}, "unknown_language"),
])
def test_a_nul_character_is_a_400_not_a_database_error(help_center, params, code):
    response = _client(AgentFactory()).get(URL, params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
