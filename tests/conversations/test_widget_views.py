"""The widget's HTTP side: the session it starts with (anonymous or identified by the host's
signed token), its clear errors, its rate limit, and the frame and demo pages."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import jwt
import pytest
from django.urls import reverse

from conversations import widget
from routing.models import Presence
from tests.factories import (
    AgentProfileFactory,
    ContactFactory,
    CourierFactory,
    PartnerFactory,
    SupervisorFactory,
    UserFactory,
)
from timeline.models import Contact, ContactKind

pytestmark = pytest.mark.django_db

SESSION_URL = "/widget/session"


@pytest.fixture(autouse=True)
def _own_counters(settings):
    """Rate-limit counters of other runs on the same Redis stay out of this test's."""
    settings.REDIS_KEY_PREFIX = f"test-{uuid.uuid4().hex}"


def post(client, body, *, raw: bool = False):
    return client.post(SESSION_URL, data=body if raw else json.dumps(body), content_type="application/json")


def identity_token(**claims) -> str:
    identity = {"external_id": "C-100", "kind": ContactKind.CUSTOMER, **claims}
    return widget.identity_encode(widget.Identity(**identity))


def test_an_anonymous_visitor_gets_a_session_of_their_own(client):
    # given no token at all
    # when the widget starts
    response = post(client, {})

    # then it speaks for a new anonymous visitor, who has no contact until they write
    assert response.status_code == 200
    body = response.json()
    assert body["anonymous"] is True and body["has_email"] is False and body["name"] == ""
    assert body["ws_path"] == "/ws/chat/" and body["agents_online"] is False
    session = widget.session_decode(body["session"])
    assert session.contact_id is None and session.visitor
    assert not Contact.objects.filter(external_id=session.visitor_external_id).exists()


def test_the_widget_keeps_its_session_across_visits(client):
    # given a session from an earlier visit
    first = widget.session_decode(post(client, {}).json()["session"])

    # when the widget presents it again
    response = post(client, {"session": widget.session_encode(first)})

    # then it is the same visitor
    assert response.status_code == 200
    assert widget.session_decode(response.json()["session"]).visitor == first.visitor


def test_an_online_agent_is_reported(client):
    AgentProfileFactory(presence=Presence.ONLINE)

    assert post(client, {}).json()["agents_online"] is True


def test_a_host_signed_identity_creates_the_contact(client):
    # given a courier the host site vouches for
    token = identity_token(external_id="R-77", kind=ContactKind.COURIER, name="Ana Ruiz",
                           email="ana@example.com", language="CA")

    # when the widget starts with it
    response = post(client, {"identity": token})

    # then the contact exists as the host said, and the session speaks for them
    assert response.status_code == 200
    body = response.json()
    contact = Contact.objects.get(kind=ContactKind.COURIER, external_id="R-77")
    assert (contact.name, contact.email, contact.preferred_language) == ("Ana Ruiz", "ana@example.com", "ca")
    assert widget.session_decode(body["session"]).contact_id == contact.pk
    assert body["anonymous"] is False and body["has_email"] is True and body["name"] == "Ana Ruiz"


def test_a_host_signed_identity_updates_a_known_contact(client):
    # given a customer the desk knows under an old name
    contact = ContactFactory(external_id="C-100", name="Old Name", preferred_language="es")

    # when the host vouches for them with a new name and language
    response = post(client, {"identity": identity_token(name="New Name", language="pt"),
                             "session": "an older session is ignored"})

    # then that contact is updated, not duplicated
    assert response.status_code == 200
    contact.refresh_from_db()
    assert (contact.name, contact.preferred_language) == ("New Name", "pt")
    assert Contact.objects.filter(external_id="C-100").count() == 1
    assert widget.session_decode(response.json()["session"]).contact_id == contact.pk


def forged_identity() -> str:
    claims = {"sub": "C-100", "kind": "customer", "exp": 4_000_000_000}
    return jwt.encode(claims, "not the host's secret, though long enough", algorithm="HS256")


@pytest.mark.parametrize(("body", "words"), [
    (lambda: {"identity": widget.identity_encode(widget.Identity(external_id="C-1", kind="customer"),
                                                 lifetime=timedelta(seconds=-30))}, "expired"),
    (lambda: {"identity": forged_identity()}, "not valid"),
    (lambda: {"identity": "not.a.jwt"}, "not valid"),
    (lambda: {"session": "forged-session-token"}, "not valid"),
], ids=["expired identity", "forged identity", "garbage identity", "forged session"])
def test_a_bad_token_is_refused_with_401_and_says_why(client, body, words):
    response = post(client, body())

    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "token_invalid" and words in error["message"]
    assert not Contact.objects.exists()


@pytest.mark.parametrize(("body", "words"), [
    ("{not json", "must be JSON"),
    ("[1, 2]", "JSON object"),
    ('{"identity": 5}', "identity must be a token"),
    ('{"session": ["x"]}', "session must be a token"),
    (json.dumps({"identity": "x" * 5000}), "identity must be a token"),
    ("[" * 100_000 + "]" * 100_000, "nest"),
    ('{"identity": "", "extra": ' + "[" * 5000 + "]" * 5000 + "}", "nest"),
    ('{"session": "\\ud800"}', "surrogate"),
    ('{"identity": "a\\u0000b"}', "NUL"),
    ('{"identity": "", "n": NaN}', "NaN"),
], ids=["malformed", "not an object", "identity not text", "session not text", "identity too long",
        "deep list", "deep field", "lone surrogate", "NUL", "NaN"])
def test_a_malformed_body_is_a_400_with_the_error_shape(client, body, words):
    response = post(client, body, raw=True)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "bad_request" and words in error["message"]


def test_sessions_are_rate_limited_per_address(client, settings):
    # given an address allowed two sessions a minute
    settings.CHAT_RATE_CONNECT_IP = "2/60"

    # when it asks for a third
    answers = [post(client, {}) for _ in range(3)]

    # then the third is refused, saying how long to wait
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[2].json()["error"]["code"] == "rate_limited"
    assert 1 <= int(answers[2]["Retry-After"]) <= 60


def test_the_session_endpoint_takes_only_post(client):
    assert client.get(SESSION_URL).status_code == 405


def test_the_frame_may_be_framed_by_any_host_site(client):
    response = client.get(reverse("widget:frame"))

    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    html = response.content.decode()
    for hook in ("composer", "send-button", "message-list", "typing-indicator", "email-form", "status-line"):
        assert f'data-testid="{hook}"' in html
    assert 'data-session-url="/widget/session"' in html and "widget/chat.js" in html


def test_the_demo_page_embeds_the_widget_for_an_anonymous_visitor(client):
    # given contacts in the desk, and a visitor who is not staff (DEBUG is off in tests)
    ContactFactory(name="Carla Customer")

    # when they open the demo shop
    response = client.get(reverse("widget:demo"))

    # then the page embeds the widget without an identity, and offers no one to impersonate
    assert response.status_code == 200
    html = response.content.decode()
    assert "widget/embed.js" in html and "data-identity-token" not in html
    assert "Carla Customer" not in html


def test_the_demo_page_lets_a_supervisor_visit_as_a_demo_contact_of_each_kind(client):
    # given a supervisor, and contacts of each kind (one of them an anonymous visitor's, not offered)
    client.force_login(SupervisorFactory())
    customer = ContactFactory(name="Carla Customer")
    CourierFactory(name="Rui Courier")
    PartnerFactory(name="Pia Partner")
    ContactFactory(external_id="visitor-abc", name="Some Visitor")

    # when they pick the customer
    response = client.get(reverse("widget:demo"), {"as": customer.pk})

    # then all kinds are offered and the page signs the customer's identity for the widget
    html = response.content.decode()
    assert all(name in html for name in ("Carla Customer", "Rui Courier", "Pia Partner"))
    assert "Some Visitor" not in html
    token = response.context["identity_token"]
    assert f'data-identity-token="{token}"' in html
    identity = widget.identity_decode(token)
    assert (identity.external_id, identity.kind, identity.name) == (customer.external_id, "customer",
                                                                     "Carla Customer")


def test_staff_without_the_supervisor_permission_may_not_impersonate_on_the_demo_page(client):
    # given a staff account that is no supervisor (DEBUG is off in tests)
    client.force_login(UserFactory(is_staff=True))
    customer = ContactFactory(name="Carla Customer")

    response = client.get(reverse("widget:demo"), {"as": customer.pk})

    assert response.status_code == 200
    assert response.context["identity_token"] == "" and "Carla Customer" not in response.content.decode()


def test_the_demo_page_ignores_an_unknown_visitor_choice(client):
    client.force_login(SupervisorFactory())

    response = client.get(reverse("widget:demo"), {"as": "no-such-contact"})

    assert response.status_code == 200
    assert response.context["identity_token"] == "" and response.context["unknown_choice"] is True
