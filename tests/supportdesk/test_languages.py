"""The one decision of a customer's language (supportdesk.languages): the contact's, then the
widget's setting, then the browser's, then English; only languages the desk ships count."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from supportdesk import languages


def browser(accept: str):
    return RequestFactory().get("/", HTTP_ACCEPT_LANGUAGE=accept)


@pytest.mark.parametrize(("contact", "widget", "accept", "chosen"), [
    ("de", "es", "fr-FR,fr;q=0.9", "de"),          # the contact's own language first
    ("", "es", "fr-FR,fr;q=0.9", "es"),            # then the widget's setting
    ("", "", "fr-FR,fr;q=0.9", "fr"),              # then the browser's
    ("", "", "", "en"),                            # else English
    ("xx", "zz", "", "en"),                        # languages the desk does not ship are skipped
    ("pt-BR", "", "", "pt"),                       # a region narrows nothing
    ("", "", "nl;q=1.0, ar;q=0.5, en;q=0.1", "ar"),  # the browser's first shipped language, by weight
    ("", "AR", "", "ar"),
    ("", "e" * 40, "tr", "tr"),                    # too long to be a language tag
])
def test_the_contact_then_the_widget_then_the_browser(contact, widget, accept, chosen):
    assert languages.customer_language(contact_language=contact, widget_language=widget,
                                       request=browser(accept)) == chosen


def test_without_a_request_the_browser_says_nothing():
    assert languages.customer_language(contact_language=None, widget_language=None) == "en"


def test_arabic_reads_right_to_left_and_the_others_left_to_right():
    assert languages.direction("ar") == "rtl"
    assert {languages.direction(code) for code in ("en", "es", "ka", "ko", "uk")} == {"ltr"}
    assert languages.direction("not-a-language") == "ltr"
