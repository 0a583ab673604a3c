"""The desk's pages in the language its user chose: English by default (whatever the browser
asks for), Spanish once chosen in the header's form, which refuses other languages clearly
and sends nobody to another site; customers' pages keep choosing their own language."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils.html import escape

from tests.factories import AgentProfileFactory

pytestmark = pytest.mark.django_db

REPORTS = "/desk/reports/"


@pytest.fixture
def agent_client() -> Client:
    client = Client()
    client.force_login(AgentProfileFactory(languages=["es", "en"]).user)
    return client


def test_the_desk_is_english_by_default_even_for_a_spanish_browser(agent_client):
    html = agent_client.get(REPORTS, HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9").content.decode()

    assert '<html lang="en">' in html
    assert "<h1>Reports</h1>" in html


def test_choosing_spanish_turns_the_desk_spanish_and_returns_to_the_page(agent_client):
    response = agent_client.post("/desk/language/", {"language": "es", "next": REPORTS})

    assert response.status_code == 302 and response["Location"] == REPORTS
    assert response.cookies["desk_language"].value == "es"
    html = agent_client.get(REPORTS).content.decode()
    assert '<html lang="es">' in html
    assert "<h1>Informes</h1>" in html
    assert 'value="es" selected' in html
    assert ">Cambiar</button>" in html  # the header's own words too

    agent_client.post("/desk/language/", {"language": "en", "next": REPORTS})
    assert "<h1>Reports</h1>" in agent_client.get(REPORTS).content.decode()


@pytest.mark.parametrize("language", ["fr", "", "es; DROP"])
def test_a_language_the_desk_does_not_ship_is_a_400_saying_which_it_does(agent_client, language):
    response = agent_client.post("/desk/language/", {"language": language})

    assert response.status_code == 400
    assert escape("Choose one of the desk's languages: en, es.") in response.content.decode()
    assert "desk_language" not in response.cookies


def test_it_never_sends_anyone_to_another_site(agent_client):
    response = agent_client.post("/desk/language/", {"language": "es", "next": "https://evil.example.com/"})

    assert response.status_code == 302 and response["Location"] == "/desk/"


def test_the_desk_choice_does_not_change_a_customers_page(agent_client):
    agent_client.post("/desk/language/", {"language": "es"})

    html = agent_client.get("/widget/frame/", HTTP_ACCEPT_LANGUAGE="de").content.decode()

    assert '<html lang="de" dir="ltr">' in html and ">Senden<" in html


def test_an_unknown_cookie_value_is_english(client):
    client.cookies["desk_language"] = "xx"

    assert '<html lang="en">' in client.get("/").content.decode()
