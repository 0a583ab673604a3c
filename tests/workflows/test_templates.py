"""Message templates: language fallback, the tiny sandboxed syntax, and validation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.factories import AgentProfileFactory
from workflows.templates import (
    allowed_variables,
    served_languages,
    template_errors,
    template_missing_languages,
    template_render,
)

TEXTS = {
    "en": {"subject": "Sorry, {{ contact.first_name }}", "body": "Order {{ order.id }}: {{ rebate.amount }}"},
    "es": {"subject": "Lo sentimos, {{contact.first_name}}", "body": "Pedido {{ order.id }}"},
    "fr": {"subject": "Désolés", "body": "Commande {{ order.id }}"},
}
VARIABLES = {"contact.first_name": "Ana", "order.id": "O-1", "rebate.amount": Decimal("5")}


@pytest.mark.parametrize(("language", "country", "chosen"), [
    ("es", "ES", "es"),
    ("es-MX", "MX", "es"),  # the base language
    ("ca", "ES", "es"),  # no Catalan text: the country's language
    ("nl", "BE", "fr"),  # Belgium: Dutch first, then French, which there is
    ("ko", "KR", "en"),  # neither: English
    ("", "", "en"),
])
def test_language_falls_back_to_the_country_then_english(language, country, chosen) -> None:
    assert template_render(TEXTS, language=language, country=country, variables=VARIABLES).language == chosen


def test_render_fills_variables_and_leaves_no_syntax() -> None:
    rendered = template_render(TEXTS, language="en", country="GB", variables=VARIABLES)
    assert rendered.subject == "Sorry, Ana"
    assert rendered.body == "Order O-1: 5.00"
    spanish = template_render(TEXTS, language="es", country="ES", variables={})
    assert spanish.subject == "Lo sentimos,"


def test_render_never_reaches_into_objects() -> None:
    texts = {"en": {"subject": "", "body": "{{ contact.__class__ }}{{ contact.name.upper }}"}}
    rendered = template_render(texts, language="en", country="", variables={"contact": object()})
    assert rendered.body == ""


def test_template_errors() -> None:
    allowed = allowed_variables(["contact", "order"])
    assert template_errors(TEXTS, allowed) == []
    errors = template_errors({"en": {"subject": "", "body": "Hi {{ contact.password }}"}}, allowed)
    assert "unknown variable {{ contact.password }}" in errors[0]
    assert template_errors({"en": {"body": "{{ x|safe }}"}}, allowed)
    assert template_errors({"en": {"body": "Hi {{ contact.name"}}, allowed)
    assert template_errors({"english": {"body": "Hi"}}, allowed)
    assert template_errors({"en": {"body": ""}}, allowed)
    assert template_errors({}, allowed)
    assert template_errors("Hi", allowed)
    # A conversation variable is not there for an order workflow.
    assert template_errors({"en": {"body": "{{ conversation.id }}"}}, allowed)


@pytest.mark.django_db
def test_missing_languages_of_the_desk() -> None:
    AgentProfileFactory(languages=["es", "ca"])
    AgentProfileFactory(languages=["fr", "pt-BR"])
    assert served_languages() == ["ca", "es", "fr", "pt-BR"]
    assert template_missing_languages(TEXTS, served_languages()) == ["ca", "pt-BR"]
