"""The reports' Spanish catalogue (reports/locale/es), written by hand: every string the reports
mark for translation (reports/*.py and templates/reports/, found as makemessages finds them) has
its Spanish there, the catalogue holds nothing else, and Spanish is what Django serves for each.
The API's help texts (help_text=) stay in English, as the schema is, so they are not asked for."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from babel.messages.pofile import read_po
from django.conf import settings
from django.utils import translation
from django.utils.translation.template import templatize

CATALOGUE = Path(settings.BASE_DIR) / "reports" / "locale" / "es" / "LC_MESSAGES" / "django.po"
CODE = Path(settings.BASE_DIR) / "reports"
TEMPLATES = Path(settings.BASE_DIR) / "templates" / "reports"
# Django's markers; `_` is how the reports import gettext or gettext_lazy.
MARKERS = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext", "pgettext_lazy",
           "npgettext", "npgettext_lazy"}
# templatize turns each {% translate %} and {% blocktranslate %} into one of these calls.
TEMPLATE_CALL = re.compile(r"\b(?:n?p?gettext)\(")
PLACEHOLDER = re.compile(r"%\(\w+\)[a-z]")

Key = tuple[str | None, str]  # (context, msgid)


def _marked(call: ast.Call) -> Key | None:
    """(context, msgid) of a gettext call with literal arguments, else None."""
    name = call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", None)
    if name not in MARKERS:
        return None
    texts = [arg.value for arg in call.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
    if not texts:
        return None
    return (texts[0], texts[1]) if name.startswith(("pgettext", "npgettext")) else (None, texts[0])


def _python_strings() -> dict[Key, str]:
    found: dict[Key, str] = {}
    for path in sorted(CODE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        help_texts = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.keyword)
                      and node.arg == "help_text"}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and id(node) not in help_texts and (key := _marked(node)):
                found.setdefault(key, f"{path.relative_to(settings.BASE_DIR)}:{node.lineno}")
    return found


def _template_strings() -> dict[Key, str]:
    found: dict[Key, str] = {}
    for path in sorted(TEMPLATES.glob("*.html")):
        code = templatize(path.read_text(encoding="utf-8"), origin=str(path))
        for match in TEMPLATE_CALL.finditer(code):
            # The arguments are string literals (which may hold a ")") and, for plurals, `count`.
            end = code.index(")", match.end())
            while True:
                try:
                    call = ast.parse(code[match.start():end + 1], mode="eval").body
                    break
                except SyntaxError:
                    end = code.index(")", end + 1)
            if key := _marked(call):
                found.setdefault(key, str(path.relative_to(settings.BASE_DIR)))
    return found


def _catalogue():
    with CATALOGUE.open("rb") as po:
        return read_po(po, locale="es")


def test_every_reports_string_has_its_spanish():
    catalogue = _catalogue()
    marked = {**_template_strings(), **_python_strings()}

    missing = {}
    for (context, msgid), where in marked.items():
        message = catalogue.get(msgid, context=context)
        strings = message.string if message and isinstance(message.string, tuple) else (
            (message.string,) if message else ("",))
        if not message or message.fuzzy or not all(strings):
            missing[where] = msgid

    assert len(marked) > 100  # the extraction found the pages' strings, not nothing
    assert missing == {}, "Add these to reports/locale/es/LC_MESSAGES/django.po and run msgfmt"


def test_the_catalogue_holds_only_what_the_reports_use():
    catalogue = _catalogue()
    marked = {**_template_strings(), **_python_strings()}

    unused = [(message.context, message.id) for message in catalogue if message.id
              and (message.context, message.id[0] if isinstance(message.id, tuple) else message.id) not in marked]

    assert unused == [] and not catalogue.obsolete


def test_the_translations_keep_their_placeholders():
    def placeholders(texts: str | tuple[str, ...]) -> set[str]:
        return set(PLACEHOLDER.findall(" ".join(texts) if isinstance(texts, tuple) else texts))

    changed = {}
    for message in _catalogue():
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.id and any(placeholders(text) != placeholders(message.id) for text in strings):
            changed[message.id] = message.string

    assert changed == {}


def test_django_serves_the_catalogues_spanish():
    """The compiled catalogue is the .po's, and no app earlier in INSTALLED_APPS answers one of
    our strings with its own words (the admin's "Change" is a verb: ours has a context)."""
    served = {}
    with translation.override("es"):
        for message in _catalogue():
            if not message.id:
                continue
            if isinstance(message.id, tuple):
                singular, plural = message.id
                got = tuple(translation.npgettext(message.context, singular, plural, n) if message.context
                            else translation.ngettext(singular, plural, n) for n in (1, 2))
            else:
                got = (translation.pgettext(message.context, message.id) if message.context
                       else translation.gettext(message.id))
            if got != message.string:
                served[message.id] = got

    assert served == {}
