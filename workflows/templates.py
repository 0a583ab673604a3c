"""Message templates for workflows and outreach: a text per language, rendered in the
contact's language, else their country's, else English.

    {"en": {"subject": "Sorry, {{ contact.name }}", "body": "Your order {{ order.id }} ..."},
     "es": {"subject": "Lo sentimos, {{ contact.name }}", "body": "..."}}

The syntax is deliberately tiny: `{{ name }}` and nothing else, no filters, tags or
attribute access, so a supervisor's text can never reach into a model or run code. Values
come from the `variables` mapping the caller builds (plain strings and numbers), and are
inserted as they are (the email is plain text; a channel that renders HTML escapes).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from babel.languages import get_official_languages
from django.utils.translation import gettext as _

from routing.models import AgentProfile

FALLBACK_LANGUAGE = "en"
PARTS = ("subject", "body")
_VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")

# The variables a workflow message may use, by the scopes its trigger provides.
VARIABLES = {
    "contact": ("contact.name", "contact.first_name", "contact.external_id", "contact.email",
                "contact.language", "contact.country", "contact.tier",
                "contact.lifetime_order_value"),
    "order": ("order.id", "order.status", "order.total", "order.currency", "order.delay_minutes",
              "order.minutes_past_promise", "order.promised_at", "order.placed_at"),
    "conversation": ("conversation.id", "conversation.channel", "conversation.subject"),
    # A "message.received" trigger's: the start of the message, from the run's trigger.
    "message": ("message.excerpt",),
    "step": ("rebate.amount", "rebate.currency", "rebate.reference",
             "coupon.code", "coupon.amount", "coupon.currency", "desk.name"),
}


def allowed_variables(scopes: Iterable[str]) -> frozenset[str]:
    """The variable names a template may use when its workflow has these scopes."""
    return frozenset(name for scope in (*scopes, "step") for name in VARIABLES.get(scope, ()))


@dataclass(frozen=True)
class Rendered:
    language: str
    subject: str
    body: str


def _base(language: str) -> str:
    return language.replace("_", "-").split("-", 1)[0].lower()


def template_language(texts: Mapping[str, Any], *, language: str, country: str) -> str | None:
    """Which of the texts' languages serves a contact: theirs (exact, then its base: pt-BR ->
    pt), else an official language of their country, else English, else the first text."""
    if not texts:
        return None
    candidates = [language, _base(language)] if language else []
    if country:
        try:
            candidates += [_base(code) for code in get_official_languages(country.upper(), de_facto=True)]
        except (ValueError, KeyError):
            pass
    candidates.append(FALLBACK_LANGUAGE)
    for candidate in candidates:
        if candidate and candidate in texts:
            return candidate
    return next(iter(texts))


def template_render(texts: Mapping[str, Mapping[str, str]], *, language: str, country: str,
                    variables: Mapping[str, Any]) -> Rendered:
    """Render the text that serves the contact (see `template_language`). A variable the
    template uses that `variables` lacks renders as an empty string: templates are checked
    with `template_errors` when saved, and a contact without a name must still get the
    message."""
    chosen = template_language(texts, language=language, country=country)
    if chosen is None:
        raise ValueError("A template needs a text in at least one language.")
    text = texts[chosen]
    return Rendered(language=chosen,
                    subject=_fill(str(text.get("subject", "")), variables).replace("\n", " ").strip(),
                    body=_fill(str(text.get("body", "")), variables))


def _fill(text: str, variables: Mapping[str, Any]) -> str:
    return _VARIABLE.sub(lambda match: _text(variables.get(match.group(1))), text)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def template_variables(text: str) -> list[str]:
    """The variable names a text uses, in order."""
    return [match.group(1) for match in _VARIABLE.finditer(text)]


def template_errors(texts: Any, allowed_variables: Collection[str]) -> list[str]:
    """Everything wrong with a template, as messages; [] when it is valid: its shape (an
    object of language -> {subject, body}), an unknown language code, an empty body, a
    variable that does not exist, a stray "{{" or "}}"."""
    if not isinstance(texts, Mapping) or not texts:
        return [_("A template needs a text in at least one language: "
                  '{"en": {"subject": "...", "body": "..."}}.')]
    errors = []
    for language, text in texts.items():
        if not isinstance(language, str) or not _LANGUAGE.match(language):
            errors.append(_("%(language)r is not a language code such as en or pt-BR.") % {"language": language})
            continue
        if not isinstance(text, Mapping) or set(text) - set(PARTS):
            errors.append(_("%(language)s: give a subject and a body, nothing else.") % {"language": language})
            continue
        if not isinstance(text.get("body"), str) or not text["body"].strip():
            errors.append(_("%(language)s: the body is empty.") % {"language": language})
        for part in PARTS:
            value = text.get(part, "")
            if not isinstance(value, str):
                errors.append(_("%(language)s %(part)s: must be text.") % {"language": language, "part": part})
                continue
            for name in template_variables(value):
                if not _NAME.match(name):
                    errors.append(_("%(language)s %(part)s: {{ %(name)s }} is not a variable; "
                                    "write {{ contact.name }}, without filters or tags.")
                                  % {"language": language, "part": part, "name": name})
                elif name not in allowed_variables:
                    errors.append(_("%(language)s %(part)s: unknown variable {{ %(name)s }}; known: "
                                    "%(known)s.") % {"language": language, "part": part, "name": name,
                                                     "known": ", ".join(sorted(allowed_variables))})
            leftover = _VARIABLE.sub("", value)
            if "{{" in leftover or "}}" in leftover:
                errors.append(_("%(language)s %(part)s: a {{ or }} is not closed.")
                              % {"language": language, "part": part})
    return errors


def template_missing_languages(texts: Mapping[str, Any], served_languages: Iterable[str]) -> list[str]:
    """The languages the desk serves that the template has no text for (an admin warning:
    those contacts get their country's language or English instead)."""
    have = {_base(language) for language in texts} | set(texts)
    return sorted({language for language in served_languages
                   if language and language not in have and _base(language) not in have})


def served_languages() -> list[str]:
    """The languages the desk serves: those its agents work in."""
    languages = AgentProfile.objects.values_list("languages", flat=True)
    return sorted({language for row in languages for language in (row or []) if language})
