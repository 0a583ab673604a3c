"""The widget in the customer's language: the frame is drawn in the widget's setting (?lang=,
from the embed snippet) or the browser's, right to left for Arabic, and the session switches
it to the contact's own language once it knows them; bad settings are refused clearly."""

from __future__ import annotations

import json
import uuid
from html import unescape

import pytest

from conversations import widget
from tests.factories import ContactFactory
from timeline.models import ContactKind

pytestmark = pytest.mark.django_db

SESSION_URL = "/widget/session"


@pytest.fixture(autouse=True)
def _own_counters(settings):
    settings.REDIS_KEY_PREFIX = f"test-{uuid.uuid4().hex}"


def words_of(html: str) -> dict[str, str]:
    start = html.index('data-words="') + len('data-words="')
    return json.loads(unescape(html[start:html.index('"', start)]))


def test_an_arabic_browser_gets_the_frame_in_arabic_right_to_left(client):
    response = client.get("/widget/frame/", HTTP_ACCEPT_LANGUAGE="ar-MA,ar;q=0.9,fr;q=0.5")

    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="ar" dir="rtl">' in html
    assert "إرسال" in html and "اكتب رسالة…" in html  # Send, and the composer's placeholder
    assert words_of(html)["typing"] == "%(name)s يكتب…"
    assert "<script>" not in html and 'type="application/json"' not in html  # no inline script in the frame
    assert "Accept-Language" in response["Vary"]


def test_the_widget_setting_outranks_the_browser(client):
    html = client.get("/widget/frame/?lang=es", HTTP_ACCEPT_LANGUAGE="ar").content.decode()

    assert '<html lang="es" dir="ltr">' in html
    assert 'data-widget-language="es"' in html
    assert ">Enviar<" in html and "Send" not in html


@pytest.mark.parametrize("setting", ["xx", "<script>", "e" * 300])
def test_an_unknown_widget_setting_falls_back_to_the_browser_and_is_not_echoed(client, setting):
    html = client.get("/widget/frame/", {"lang": setting}, HTTP_ACCEPT_LANGUAGE="de").content.decode()

    assert '<html lang="de" dir="ltr">' in html
    assert 'data-widget-language=""' in html


def test_english_is_the_fallback(client):
    html = client.get("/widget/frame/").content.decode()

    assert '<html lang="en" dir="ltr">' in html and ">Send<" in html


def test_the_session_speaks_the_identified_contacts_own_language(client):
    ContactFactory(external_id="C-7", kind=ContactKind.CUSTOMER, preferred_language="ar")
    identity = widget.identity_encode(widget.Identity(external_id="C-7", kind=ContactKind.CUSTOMER))

    body = client.post(SESSION_URL, json.dumps({"identity": identity, "language": "es"}),
                       content_type="application/json", HTTP_ACCEPT_LANGUAGE="fr").json()

    assert (body["language"], body["dir"]) == ("ar", "rtl")
    assert body["words"]["send"] == "إرسال"


def test_an_anonymous_session_takes_the_widget_setting_then_the_browser(client):
    with_setting = client.post(SESSION_URL, json.dumps({"language": "uk"}), content_type="application/json",
                               HTTP_ACCEPT_LANGUAGE="fr").json()
    without = client.post(SESSION_URL, "", content_type="application/json", HTTP_ACCEPT_LANGUAGE="ka").json()

    assert (with_setting["language"], with_setting["words"]["send"]) == ("uk", "Надіслати")
    assert (without["language"], without["dir"], without["words"]["send"]) == ("ka", "ltr", "გაგზავნა")


@pytest.mark.parametrize("language", [42, ["es"], "e" * 17])
def test_a_widget_language_that_is_no_language_code_is_a_400(client, language):
    response = client.post(SESSION_URL, json.dumps({"language": language}), content_type="application/json")

    assert response.status_code == 400
    assert "language must be a language code" in response.json()["error"]["message"]
