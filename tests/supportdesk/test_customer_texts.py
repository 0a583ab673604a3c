"""Every word a customer reads ships in every customer language: the customer-facing templates
hold no text outside {% translate %} / {% blocktranslate %}, and each language's catalogues
translate every message those templates and the customer-facing code use, with the same
placeholders, compiled (.mo) from the .po as it stands. The same for the help center's frame
(in every language it has pages in) and the frame of the emails the desk sends customers. The
error messages the widget's socket and HTTP endpoints can answer with are found by walking the
code from those entry points (tests/customer_messages.py); each must be marked for translation,
and the customer gets it in their language. A new English sentence without its translations,
or a language dropped, fails here rather than in front of a customer."""

from __future__ import annotations

import gettext
import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_python
from babel.messages.pofile import read_po
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation.template import templatize

from conversations import widget_urls
from conversations.widget_words import WORDS
from helpcenter.languages import HELP_LANGUAGES
from supportdesk.demo import CHAT_LANGUAGES
from supportdesk.errors import DomainError
from supportdesk.routing import websocket_urlpatterns
from tests.catalogues import untranslated_text
from tests.customer_messages import walk

ROOT = Path(settings.BASE_DIR)
CUSTOMER_TEMPLATES = (
    "widget/frame.html",
    "surveys/_page.html", "surveys/rate.html", "surveys/problem.html",
    "calls/consent.html", "calls/answered.html", "calls/problem.html",
)
# The help center's frame: in every customer language and every language it has pages in.
HELP_CENTER_TEMPLATES = (
    "helpcenter/base.html", "helpcenter/home.html", "helpcenter/category.html", "helpcenter/article.html",
    "helpcenter/search.html", "helpcenter/not_found.html",
)
HELP_CENTER_MODULES = ("helpcenter/views.py", "helpcenter/selectors.py", "helpcenter/search.py")
HELP_CENTER_MESSAGES_ELSEWHERE = (
    # helpcenter/access.py (its API's refusal is for agents)
    "There is no such article in the help center.",
    "The help center is not available in this language.",
)
# Modules whose every translatable string a customer reads.
CUSTOMER_MODULES = (
    "conversations/widget_words.py", "conversations/widget_hours.py", "conversations/waiting.py",
    "conversations/call_links.py", "conversations/call_invitations.py", "conversations/self_service.py",
    "workflows/surveys/links.py", "workflows/surveys/views.py",
    "integrations/email_frame.py",
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
)
# workflows/surveys/services.py: the survey's texts, its email and its answers' errors.
SURVEY_SERVICES = "workflows/surveys/services.py"
# Where a customer's requests come in: every view of the widget's URLs and the chat's socket.
VISITOR_ENTRY_POINTS = (*(pattern.callback for pattern in widget_urls.urlpatterns),
                        *(route.callback.consumer_class for route in websocket_urlpatterns
                          if str(route.pattern) == "ws/chat/"))
# Refusals the walk from those entry points reaches that nothing a customer sends can cause:
# checks on what the desk's own code passes (a visitor's first message opens a conversation
# and enqueues its work item, with the desk's channel, direction, attributes and priority).
# Each must still be reached and still refuse something, or it is stale (a test says so).
NOT_FROM_A_VISITOR = {
    # The host site's developer reads these: on a refused identity the widget shows its own
    # words (static/widget/session.js: signin_failed), never the message.
    "conversations.widget.identity_decode",
    "conversations.services.conversations.conversation_open",
    "conversations.services.conversations.conversation_status_set",
    "conversations.services.messages.message_create",
    "routing.services.config.attributes_normalise",
    "routing.services.items.work_item_enqueue",
    "routing.services.claims.item_lock",
}
KEYWORDS = {"gettext": None, "gettext_lazy": None, "_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2),
            "gettext_noop": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
CATALOGUE_APPS = ("supportdesk", "timeline", "routing", "conversations", "workflows", "integrations", "helpcenter",
                  "reports")


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


def visitor_walk():
    return walk(VISITOR_ENTRY_POINTS, exempt=NOT_FROM_A_VISITOR)


def customer_messages() -> set[str]:
    messages = {str(text) for text in WORDS.values()} | set(CUSTOMER_MESSAGES_ELSEWHERE)
    for name in CUSTOMER_TEMPLATES:
        messages |= _template_messages(name)
    for module in CUSTOMER_MODULES:
        messages |= _python_messages((ROOT / module).read_text())
    messages |= _python_messages((ROOT / SURVEY_SERVICES).read_text())
    return messages | visitor_walk().messages


def help_center_messages() -> set[str]:
    messages = set(HELP_CENTER_MESSAGES_ELSEWHERE)
    for name in HELP_CENTER_TEMPLATES:
        messages |= _template_messages(name)
    for module in HELP_CENTER_MODULES:
        messages |= _python_messages((ROOT / module).read_text())
    return messages


def messages_for(language: str) -> set[str]:
    """What a reader of `language` is owed: the customer texts in a customer language, the help
    center's frame in each of its languages (Russian has articles, not yet a chat)."""
    return ((customer_messages() if language in settings.CUSTOMER_LANGUAGES else set())
            | (help_center_messages() if language in HELP_LANGUAGES else set()))


LANGUAGES = sorted((set(settings.CUSTOMER_LANGUAGES) | set(HELP_LANGUAGES)) - {"en"})


def catalogue_files(language: str) -> list[Path]:
    return [path for app in CATALOGUE_APPS
            if (path := ROOT / app / "locale" / language / "LC_MESSAGES" / "django.po").exists()]


def translations(language: str) -> dict[str, tuple[str, bool]]:
    """msgid -> (msgstr, fuzzy) over the apps' catalogues, as Django merges them. A plural's
    singular and plural are both keys, with its forms joined (each form must be there)."""
    merged: dict[str, tuple[str, bool]] = {}
    for path in catalogue_files(language):
        with path.open("rb") as handle:
            for message in read_po(handle):
                if not message.id:
                    continue
                if isinstance(message.id, str):
                    merged.setdefault(message.id, (message.string, message.fuzzy))
                else:
                    forms = message.string if all(message.string) else ("",)
                    for msgid in message.id:
                        merged.setdefault(msgid, (" ".join(forms), message.fuzzy))
    return merged


def test_the_customer_languages_cover_every_demo_agents_language():
    assert set(CHAT_LANGUAGES) <= set(settings.CUSTOMER_LANGUAGES)
    assert len(set(settings.CUSTOMER_LANGUAGES) - {"en"}) >= 13


@pytest.mark.parametrize("name", CUSTOMER_TEMPLATES + HELP_CENTER_TEMPLATES)
def test_a_customer_facing_template_has_no_untranslated_text(name):
    assert untranslated_text((ROOT / "templates" / name).read_text()) == []


def test_the_template_check_catches_text_outside_translation_tags():
    source = ('{% load i18n %}<html lang="{{ language }}"><head><title>Hello</title>'
              '<style>p { color: red }</style></head><body><p>{% translate "Fine" %}</p>'
              '{% blocktranslate %}Fine too {{ x }}{% endblocktranslate %}'
              '<input placeholder="Your name" aria-label="{{ words.name }}">{# a comment #}'
              '{% comment %}Also fine{% endcomment %}<button>Send</button> &times; 42'
              # A key's name, a language's own name, an address pieced together from variables.
              '<kbd>Alt+N</kbd><option lang="es">Español</option><a>Close</a>{{ scheme }}://{{ host }}/help/'
              '</body></html>')

    assert untranslated_text(source) == ["Hello", "Your name", "Send", "Close"]


def test_the_customer_messages_are_found_in_templates_and_code():
    messages = customer_messages()

    # One from each kind of source: a template's {% translate %}, its {% blocktranslate %},
    # the widget's words, a customer module and the survey's services.
    assert {"Call me now", "Your phone will ring in a moment at %(phone)s.", "%(name)s is typing…",
            "Email us instead: %(address)s", "Thank you for your rating!"} <= messages
    # The help center's frame: a template's plural, a view's refusal, the search's, the access's;
    # and the emails' frame.
    assert {"%(counter)s article", "%(counter)s articles", "Answer yes or no.",
            "Type at least %(count)d characters to search.",
            "The help center is not available in this language."} <= help_center_messages()
    assert "This email was sent automatically. If you need help, reply to it and our support team will answer." \
        in messages
    assert "The help center's search API is for agents and supervisors." not in help_center_messages()


def test_the_help_center_ships_in_every_customer_language():
    assert set(settings.CUSTOMER_LANGUAGES) <= set(HELP_LANGUAGES)


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_customer_language_translates_every_customer_message(language):
    catalogue = translations(language)
    assert catalogue, f"no catalogue for {language}"
    owed = messages_for(language)

    missing = sorted(message for message in owed
                     if not catalogue.get(message, ("", False))[0] or catalogue[message][1])
    assert missing == [], f"{language} misses {len(missing)}: {missing[:5]}"
    # A plural's forms may leave the number out ("one article"), never add one.
    wrong_placeholders = sorted(
        message for message in owed
        if not set(PLACEHOLDER.findall(catalogue[message][0])) <= set(PLACEHOLDER.findall(message))
        or (set(PLACEHOLDER.findall(message)) != set(PLACEHOLDER.findall(catalogue[message][0]))
            and message not in _plurals(language)))
    assert wrong_placeholders == []


def _plurals(language: str) -> set[str]:
    found = set()
    for path in catalogue_files(language):
        with path.open("rb") as handle:
            found |= {msgid for message in read_po(handle) if isinstance(message.id, tuple)
                      for msgid in message.id}
    return found


@pytest.mark.parametrize("language", LANGUAGES)
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


def test_every_refusal_a_visitor_can_get_is_marked_for_translation():
    found = visitor_walk()

    assert found.unmarked == [], "Mark these with gettext (placeholders as %(name)s) and translate them"
    assert NOT_FROM_A_VISITOR <= found.exempt_seen, "Stale entries in NOT_FROM_A_VISITOR"


def test_the_walk_finds_the_refusals_of_the_socket_the_services_and_the_views():
    messages = visitor_walk().messages

    # The shared frame checks, a service the socket calls, one behind a registry (the survey a
    # higher layer provides), the JSON loader, the self-service views and the widget's session.
    assert {"Too many messages; wait %(seconds)s seconds.", "A message may have at most %(max)s characters.",
            "Choose a rating from %(min)s to %(max)s.", "Not valid JSON: %(reason)s.",
            "confirm must be true or false.", "The chat session token is not valid.",
            "The desk cannot reach its database just now; try again in a few seconds."} <= messages
    # The identity token's refusals are for the host site's developer.
    assert "The identity token has expired; the host page must sign a new one." not in messages


def _refusals_example(n: int, error: DomainError) -> None:
    """What the walk must tell apart: marked, relayed, and plain English (here and one call away)."""
    DomainError(_("Marked %(n)s.") % {"n": n})
    DomainError(error.message)
    DomainError("Plain.")
    _refusals_example_helper(n)


def _refusals_example_helper(n: int) -> None:
    text = "Set here."
    DomainError(f"Formatted {n}.")
    DomainError(text)


def test_the_walk_tells_marked_relayed_and_plain_refusals_apart():
    found = walk([_refusals_example], apps=("tests",))

    assert found.messages == {"Marked %(n)s."}
    assert sorted(line.split(": ", 1)[1] for line in found.unmarked) == ["'Plain.'", "f'Formatted {n}.'", "text"]
