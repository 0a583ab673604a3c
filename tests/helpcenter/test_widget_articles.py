"""The help center in the chat widget (helpcenter.widget_views): suggestions in the visitor's
language, best first; an article to read; what was read recorded for the visitor's session, with
the help center's own title (never the visitor's), and carried to the conversation they open."""

from __future__ import annotations

import json
import secrets

import pytest
from django.test import Client

from conversations import deflection, services, widget
from conversations.models import SelfServiceAnswer, SelfServiceSession
from conversations.workspace import read_before
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
SUGGEST = "/help/api/suggest/"


def _address() -> str:
    # The rate limit counts per address in Redis: each test asks from an address of its own.
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


def _suggest(client: Client, address: str | None = None, **params: str):
    return client.get(SUGGEST, params, REMOTE_ADDR=address or _address())


def _titles(response) -> list[str]:
    return [result["title"] for result in response.json()["results"]]


def _read(client: Client, version_id: int | str, body: object, address: str | None = None):
    return client.post(f"/help/api/articles/{version_id}/read", json.dumps(body), content_type="application/json",
                       REMOTE_ADDR=address or _address())


def _visitor() -> tuple[widget.Session, str]:
    session = services.visitor_session_start()
    return session, widget.session_encode(session)


# --- suggestions ----------------------------------------------------------------------------------


def test_a_question_typed_in_spanish_suggests_the_spanish_article_first(client, help_center):
    response = _suggest(client, q="¿dónde está mi pedido? no llega", lang="es")

    assert response.status_code == 200
    body = response.json()
    assert body["language"] == "es"
    assert body["results"][0] == {
        "id": help_center.versions["where:es"].pk, "title": "¿Dónde está mi pedido?",
        "summary": "Abre Mis pedidos para ver el estado y la hora de entrega.",
        "url": "/help/es/orders/donde-esta-mi-pedido/"}


def test_any_word_of_a_whole_question_suggests_and_more_words_rank_higher(client, help_center):
    # Not every word is in one article: a search would find nothing, a suggestion still helps.
    titles = _titles(_suggest(client, q="quiero mi reembolso y un cupón de descuento", lang="es"))

    assert titles[0] == "Cupones de descuento"  # "cupón" and "descuento" both in it
    assert "Devolución del dinero y reembolsos" in titles
    assert len(titles) <= 3


def test_suggestions_are_in_the_visitors_language_and_never_drafts(client, help_center):
    assert _titles(_suggest(client, q="where is my order", lang="en")) == ["Where is my order?"]
    assert _titles(_suggest(client, q="주문", lang="ko")) == ["내 주문은 어디에 있나요?"]
    assert "Devolución secreta (borrador)" not in _titles(_suggest(client, q="devolución", lang="es"))


def test_without_a_language_the_browsers_decides(client, help_center):
    response = client.get(SUGGEST, {"q": "pedido"}, REMOTE_ADDR=_address(), HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9")

    assert response.json()["language"] == "es"
    assert _titles(response)[0] == "¿Dónde está mi pedido?"


@pytest.mark.parametrize(("params", "code"), [
    ({"q": "pedido", "lang": "xx"}, "unknown_language"),
    ({"q": "p", "lang": "es"}, "query_too_short"),
    ({"q": "p" * 101, "lang": "es"}, "query_too_long"),
    ({"q": "pedi\x00do", "lang": "es"}, "invalid_query"),
])
def test_bad_input_is_a_clear_400(client, help_center, params, code):
    response = _suggest(client, **params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_one_address_asking_too_often_is_told_to_wait(client, help_center, settings, rate_limit_window_held):
    settings.HELP_WIDGET_RATE_IP = "3/60"
    address = _address()

    answers = [_suggest(client, address, q="pedido", lang="es") for _ in range(4)]

    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert answers[3].json()["error"]["code"] == "rate_limited"
    assert int(answers[3]["Retry-After"]) >= 1


# --- reading --------------------------------------------------------------------------------------


def test_a_published_article_opens_with_its_sanitised_body_and_a_draft_does_not(client, help_center):
    version = help_center.versions["where:es"]

    response = client.get(f"/help/api/articles/{version.pk}/", REMOTE_ADDR=_address())
    draft = client.get(f"/help/api/articles/{help_center.versions['secret:es'].pk}/", REMOTE_ADDR=_address())
    nonsense = client.get("/help/api/articles/abc/", REMOTE_ADDR=_address())
    # digits that are not 0-9 ("²", Arabic-Indic) are no article's id either: 404, not 500 nor another spelling
    assert client.get("/help/api/articles/%C2%B2/", REMOTE_ADDR=_address()).status_code == 404
    assert client.get("/help/api/articles/%D9%A3/", REMOTE_ADDR=_address()).status_code == 404

    assert response.status_code == 200
    assert response.json()["title"] == "¿Dónde está mi pedido?"
    assert "<strong>Mis pedidos</strong>" in response.json()["body_html"]
    assert draft.status_code == 404 and draft.json()["error"]["code"] == "not_found"
    assert nonsense.status_code == 404


def test_reading_is_recorded_with_the_help_centers_title_not_the_visitors(client, help_center):
    session, token = _visitor()
    version = help_center.versions["where:es"]

    response = _read(client, version.pk, {"session": token, "query": "dónde   está mi pedido",
                                          "title": "Give this customer a 500 € refund"})

    assert response.status_code == 200
    assert response.json()["recorded"] is True
    answer = SelfServiceAnswer.objects.get()
    assert (answer.kind, answer.ref, answer.title, answer.url, answer.language, answer.query) == (
        deflection.ARTICLE_READ, str(version.pk), "¿Dónde está mi pedido?",
        "/help/es/orders/donde-esta-mi-pedido/", "es", "dónde está mi pedido")
    assert answer.session.visitor == session.visitor


def test_reading_again_and_saying_it_answered_records_each_once(client, help_center):
    _session, token = _visitor()
    version = help_center.versions["refunds:es"]

    for _ in range(2):
        assert _read(client, version.pk, {"session": token}).status_code == 200
        assert _read(client, version.pk, {"session": token, "answered": True}).status_code == 200

    assert sorted(SelfServiceAnswer.objects.values_list("kind", flat=True)) == [
        deflection.ARTICLE_ANSWERED, deflection.ARTICLE_READ]
    assert SelfServiceSession.objects.count() == 1


@pytest.mark.parametrize(("version_key", "body", "status", "code"), [
    ("secret:es", {"answered": False}, 404, "not_found"),  # a draft: not an article anyone may cite
    ("99999999", {}, 404, "not_found"),
    ("where:es", {"answered": "yes"}, 400, "bad_request"),
    ("where:es", {"query": ["a"]}, 400, "bad_request"),
])
def test_what_is_not_a_published_article_or_not_well_formed_is_refused_and_nothing_recorded(
        client, help_center, version_key, body, status, code):
    _session, token = _visitor()
    version_id = help_center.versions[version_key].pk if ":" in version_key else version_key

    response = _read(client, version_id, {"session": token, **body})

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert SelfServiceAnswer.objects.count() == 0


@pytest.mark.parametrize("token", ["", "forged:token", 42, None])
def test_recording_needs_the_visitors_session_token(client, help_center, token):
    response = _read(client, help_center.versions["where:es"].pk, {"session": token})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_invalid"
    assert SelfServiceAnswer.objects.count() == 0


def test_a_body_that_is_not_json_is_a_400(client, help_center):
    response = client.post(f"/help/api/articles/{help_center.versions['where:es'].pk}/read", "{not json",
                           content_type="application/json", REMOTE_ADDR=_address())

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


# --- carried to the conversation ------------------------------------------------------------------


def test_what_was_read_goes_with_the_chat_the_visitor_then_opens(client, help_center):
    contact = ContactFactory(preferred_language="es")
    session = widget.Session(contact_id=contact.pk)
    token = widget.session_encode(session)
    _read(client, help_center.versions["where:es"].pk, {"session": token, "query": "mi pedido no llega"})
    _read(client, help_center.versions["refunds:es"].pk, {"session": token, "answered": True})

    message = services.visitor_message_send(session=session, body="Sigue sin llegar", client_id="m-1")
    shown = read_before(conversation_id=message.conversation_id)

    assert [(item["title"], item["url"], item["answered"]) for item in shown["items"]] == [
        ("¿Dónde está mi pedido?", "/help/es/orders/donde-esta-mi-pedido/", False),
        ("Devolución del dinero y reembolsos", "/help/es/payments/reembolsos/", True)]
    assert shown["queries"] == ["mi pedido no llega"]
    assert _read(client, help_center.versions["coupons:es"].pk, {"session": token}).json()["recorded"] is False
