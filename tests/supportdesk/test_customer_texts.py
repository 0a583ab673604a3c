"""Every word a customer reads ships in every customer language: the customer-facing templates
hold no text outside {% translate %} / {% blocktranslate %}, and each language's catalogues
translate every message those templates and the customer-facing code use, with the same
placeholders, compiled (.mo) from the .po as it stands. A new English sentence without its
translations, or a language dropped, fails here rather than in front of a customer."""

from __future__ import annotations

import gettext
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_python
from babel.messages.pofile import read_po
from django.conf import settings
from django.template.base import Lexer, TokenType
from django.utils.translation.template import templatize

from conversations.widget_words import WORDS
from supportdesk.demo import CHAT_LANGUAGES

ROOT = Path(settings.BASE_DIR)
CUSTOMER_TEMPLATES = (
    "widget/frame.html",
    "surveys/_page.html", "surveys/rate.html", "surveys/problem.html",
    "calls/consent.html", "calls/answered.html", "calls/problem.html",
)
# Modules whose every translatable string a customer reads.
CUSTOMER_MODULES = (
    "conversations/widget_words.py", "conversations/widget_hours.py", "conversations/waiting.py",
    "conversations/call_links.py", "conversations/call_invitations.py",
    "workflows/surveys/links.py", "workflows/surveys/views.py",
)
# Modules that also speak to agents or API clients: the customer's strings in them.
CUSTOMER_MESSAGES_ELSEWHERE = (
    # conversations/services/proactive_calls.py
    "We can call you to sort this out faster. Open this link to choose a call now or to keep chatting "
    "(it works for %(minutes)s minutes): %(url)s",
    "Enter a valid phone number, with the country code (for example +34 612 345 678).",
    "You have already answered this invitation.",
    "This conversation has ended, so we cannot call you from it.",
    # conversations/services/chat_end.py
    "You ended the chat. Write again whenever you need us.",
    "There is no chat to end.",
)
# workflows/surveys/services.py: the survey's texts, its email and its answers' errors, all but
# what only a broken client sees.
SURVEY_SERVICES = "workflows/surveys/services.py"
NOT_CUSTOMER_FACING = {"survey_id must be the survey's id."}
# Not words: the same in every language.
LITERALS = {"you@example.com", "×"}
# Attributes a person reads (or hears, from a screen reader).
# (Not `value`: a button's value is what the form posts, not what it says.)
READ_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "aria-description", "label"}
KEYWORDS = {"gettext": None, "gettext_lazy": None, "_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2),
            "gettext_noop": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
LETTER = re.compile(r"[^\W\d_]")
CATALOGUE_APPS = ("conversations", "workflows", "integrations", "reports")


def _python_messages(source: str) -> set[str]:
    found = set()
    for _line, _function, message, _comments in extract_python(io.BytesIO(source.encode()), KEYWORDS, (), {}):
        for text in message if isinstance(message, tuple) else (message,):
            if text:
                found.add(text)
    return found


def _template_messages(name: str) -> set[str]:
    # templatize writes the template as Python for xgettext, which ignores indentation; the
    # tokenizer babel uses does not, so the lines lose theirs.
    python = templatize((ROOT / "templates" / name).read_text())
    return _python_messages("\n".join(line.lstrip() for line in python.splitlines()))


def customer_messages() -> set[str]:
    messages = {str(text) for text in WORDS.values()} | set(CUSTOMER_MESSAGES_ELSEWHERE)
    for name in CUSTOMER_TEMPLATES:
        messages |= _template_messages(name)
    for module in CUSTOMER_MODULES:
        messages |= _python_messages((ROOT / module).read_text())
    messages |= _python_messages((ROOT / SURVEY_SERVICES).read_text()) - NOT_CUSTOMER_FACING
    return messages


def catalogue_files(language: str) -> list[Path]:
    return [path for app in CATALOGUE_APPS
            if (path := ROOT / app / "locale" / language / "LC_MESSAGES" / "django.po").exists()]


def translations(language: str) -> dict[str, tuple[str, bool]]:
    """msgid -> (msgstr, fuzzy) over the apps' catalogues, as Django merges them."""
    merged: dict[str, tuple[str, bool]] = {}
    for path in catalogue_files(language):
        with path.open("rb") as handle:
            for message in read_po(handle):
                if message.id and isinstance(message.id, str):
                    merged.setdefault(message.id, (message.string, message.fuzzy))
    return merged


class _Untranslated(HTMLParser):
    """Text nodes and read attributes with letters, outside <script>/<style>; template tags
    and variables were replaced by a NUL each before parsing."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._raw_depth = 0

    def _check(self, text: str) -> None:
        for part in text.split("\0"):
            part = part.strip()
            if part and part not in LITERALS and LETTER.search(part):
                self.found.append(part)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._raw_depth += 1
        for name, value in attrs:
            if name in READ_ATTRIBUTES and value:
                self._check(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._raw_depth = max(0, self._raw_depth - 1)

    def handle_data(self, data: str) -> None:
        if not self._raw_depth:
            self._check(data)


def untranslated_text(source: str) -> list[str]:
    """What a person would read in `source` that is not inside a translation tag."""
    parts, inside = [], None  # inside: the tag that closes the block we are in (translation, comment)
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split()[0] if token.contents else ""
            if inside:
                if name == inside:
                    inside = None
                continue
            if name in ("blocktranslate", "blocktrans"):
                inside = "endblocktranslate" if name == "blocktranslate" else "endblocktrans"
            elif name == "comment":
                inside = "endcomment"
            parts.append("\0")
        elif token.token_type == TokenType.TEXT and not inside:
            parts.append(token.contents)
        elif token.token_type == TokenType.VAR and not inside:
            parts.append("\0")
    parser = _Untranslated()
    parser.feed("".join(parts))
    parser.close()
    return parser.found


def test_the_customer_languages_cover_every_demo_agents_language():
    assert set(CHAT_LANGUAGES) <= set(settings.CUSTOMER_LANGUAGES)
    assert len(set(settings.CUSTOMER_LANGUAGES) - {"en"}) >= 13


@pytest.mark.parametrize("name", CUSTOMER_TEMPLATES)
def test_a_customer_facing_template_has_no_untranslated_text(name):
    assert untranslated_text((ROOT / "templates" / name).read_text()) == []


def test_the_template_check_catches_text_outside_translation_tags():
    source = ('{% load i18n %}<html lang="{{ language }}"><head><title>Hello</title>'
              '<style>p { color: red }</style></head><body><p>{% translate "Fine" %}</p>'
              '{% blocktranslate %}Fine too {{ x }}{% endblocktranslate %}'
              '<input placeholder="Your name" aria-label="{{ words.name }}">{# a comment #}'
              '{% comment %}Also fine{% endcomment %}<button>Send</button> &times; 42</body></html>')

    assert untranslated_text(source) == ["Hello", "Your name", "Send"]


def test_the_customer_messages_are_found_in_templates_and_code():
    messages = customer_messages()

    # One from each kind of source: a template's {% translate %}, its {% blocktranslate %},
    # the widget's words, a customer module and the survey's services.
    assert {"Call me now", "Your phone will ring in a moment at %(phone)s.", "%(name)s is typing…",
            "Email us instead: %(address)s", "Thank you for your rating!"} <= messages
    assert "survey_id must be the survey's id." not in messages


@pytest.mark.parametrize("language", sorted(set(settings.CUSTOMER_LANGUAGES) - {"en"}))
def test_each_customer_language_translates_every_customer_message(language):
    catalogue = translations(language)
    assert catalogue, f"no catalogue for {language}"

    missing = sorted(message for message in customer_messages()
                     if not catalogue.get(message, ("", False))[0] or catalogue[message][1])
    assert missing == [], f"{language} misses {len(missing)}: {missing[:5]}"
    wrong_placeholders = sorted(
        message for message in customer_messages()
        if set(PLACEHOLDER.findall(message)) != set(PLACEHOLDER.findall(catalogue[message][0])))
    assert wrong_placeholders == []


@pytest.mark.parametrize("language", sorted(set(settings.CUSTOMER_LANGUAGES) - {"en"}))
def test_each_compiled_catalogue_matches_its_po(language):
    for path in catalogue_files(language):
        with path.open("rb") as handle:
            entries = [message for message in read_po(handle) if message.id and isinstance(message.id, str)]
        with path.with_suffix(".mo").open("rb") as handle:
            compiled = gettext.GNUTranslations(handle)
        stale = [message.id for message in entries if message.string and not message.fuzzy
                 and (compiled.pgettext(message.context, message.id) if message.context
                      else compiled.gettext(message.id)) != message.string]
        assert stale == [], f"{path}: run msgfmt -c; {len(stale)} stale, e.g. {stale[:3]}"
