"""What the catalogue tests share: the strings a set of modules and templates mark for
translation (found as makemessages finds them), the text a template shows outside translation
tags, and the checks a hand-written catalogue must pass (every marked string there, the same
placeholders, Django serving it). tests/reports/test_locale.py and
tests/conversations/test_desk_locale.py ask them of their pages; test_customer_texts.py uses
the template check for the customers' pages."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from django.conf import settings
from django.template.base import Lexer, TokenType
from django.utils import translation
from django.utils.translation.template import templatize

# Django's markers, as the apps import them (`_` is gettext or gettext_lazy).
MARKERS = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext", "pgettext_lazy",
           "npgettext", "npgettext_lazy"}
# templatize turns each {% translate %} and {% blocktranslate %} into one of these calls.
TEMPLATE_CALL = re.compile(r"\b(?:n?p?gettext)\(")
PLACEHOLDER = re.compile(r"%\(\w+\)[a-z]")
# Not words: the same in every language.
LITERALS = {"you@example.com", "×"}
# Attributes a person reads (or hears, from a screen reader); not `value`: a button's value is
# what the form posts, not what it says.
READ_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "aria-description", "label"}
LETTER = re.compile(r"[^\W\d_]")
# An address assembled from variables in a block outside a tag ("{{ scheme }}://{{ host }}/help/..."):
# what is left between the variables is no word.
ADDRESS_PART = re.compile(r"(?:://|/)[\w./-]*")

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


def python_strings(paths: Iterable[Path], *, help_texts: bool = False) -> dict[Key, str]:
    """The marked strings of these modules -> where the first is. An API's help texts
    (help_text=) stay in English, as the schema is, so they are left out, unless asked for
    (a model's or a form's, which the admin shows)."""
    found: dict[Key, str] = {}
    for path in sorted(paths):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        help_texts_left_out = set() if help_texts else {
            id(node.value) for node in ast.walk(tree) if isinstance(node, ast.keyword) and node.arg == "help_text"}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and id(node) not in help_texts_left_out and (key := _marked(node)):
                found.setdefault(key, f"{path.relative_to(settings.BASE_DIR)}:{node.lineno}")
    return found


def template_strings(paths: Iterable[Path]) -> dict[Key, str]:
    """The strings these templates translate -> the template."""
    found: dict[Key, str] = {}
    for path in sorted(paths):
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


def catalogue_read(path: Path, language: str) -> Catalog:
    with path.open("rb") as po:
        return read_po(po, locale=language)


def app_catalogues(language: str) -> list[Catalog]:
    """Every app's catalogue for `language`, in INSTALLED_APPS order (the order Django asks them in)."""
    from django.apps import apps

    paths = [Path(config.path) / "locale" / language / "LC_MESSAGES" / "django.po"
             for config in apps.get_app_configs()]
    return [catalogue_read(path, language) for path in paths if path.exists()]


def missing_from(marked: dict[Key, str], catalogues: list[Catalog]) -> dict[str, str]:
    """msgid -> where, for each marked string no catalogue translates (all plural forms, not fuzzy)."""
    missing = {}
    for (context, msgid), where in marked.items():
        message = next((found for catalogue in catalogues
                        if (found := catalogue.get(msgid, context=context)) is not None), None)
        strings = message.string if message and isinstance(message.string, tuple) else (
            (message.string,) if message else ("",))
        if not message or message.fuzzy or not all(strings):
            missing[msgid] = where
    return missing


def english_served(marked: dict[Key, str], catalogues: list[Catalog], language: str) -> dict[str, str]:
    """where -> msgid, for each marked string a catalogue translates that gettext serves in
    English all the same (a stale .mo). Another app earlier in INSTALLED_APPS answering with
    other words of `language` (the admin's, auth's) is fine: it is not English."""
    english = {}
    with translation.override(language):
        for (context, msgid), where in marked.items():
            ours = next((found for catalogue in catalogues
                         if (found := catalogue.get(msgid, context=context)) is not None), None)
            if ours is None:
                continue
            if isinstance(ours.id, tuple):
                got = (translation.npgettext(context, *ours.id, 2) if context
                       else translation.ngettext(*ours.id, 2))
                wanted, original = ours.string[-1], ours.id[1]
            else:
                got = translation.pgettext(context, msgid) if context else translation.gettext(msgid)
                wanted, original = ours.string, msgid
            if got != wanted and got == original:
                english[where] = msgid
    return english


def placeholders_changed(catalogue: Catalog) -> dict[str, object]:
    """msgid -> translation, for each translation whose placeholders are not its msgid's."""
    def placeholders(texts: str | tuple[str, ...]) -> set[str]:
        return set(PLACEHOLDER.findall(" ".join(texts) if isinstance(texts, tuple) else texts))

    changed = {}
    for message in catalogue:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            # A plural's form may leave the number out ("Last day"), never bring another in.
            wrong = any(not placeholders(text) <= placeholders(message.id) for text in message.string)
        else:
            wrong = placeholders(message.string) != placeholders(message.id)
        if wrong:
            changed[message.id] = message.string
    return changed


def served_otherwise(catalogue: Catalog, language: str, keys: Iterable[Key] | None = None) -> dict[str, object]:
    """msgid -> what Django serves instead, for each message of `catalogue` (or only `keys`)
    Django does not answer with the catalogue's translation: the .mo is stale, or an app earlier
    in INSTALLED_APPS has the same msgid with other words."""
    wanted = None if keys is None else set(keys)
    served = {}
    with translation.override(language):
        for message in catalogue:
            if not message.id:
                continue
            msgid = message.id[0] if isinstance(message.id, tuple) else message.id
            if wanted is not None and (message.context, msgid) not in wanted:
                continue
            if isinstance(message.id, tuple):
                singular, plural = message.id
                got = tuple(translation.npgettext(message.context, singular, plural, n) if message.context
                            else translation.ngettext(singular, plural, n) for n in (1, 2))
                expected = (message.string[0], message.string[-1])
            else:
                got = (translation.pgettext(message.context, message.id) if message.context
                       else translation.gettext(message.id))
                expected = message.string
            if got != expected:
                served[msgid] = got
    return served


class _Untranslated(HTMLParser):
    """Text nodes and read attributes with letters, outside <script>/<style>; template tags
    and variables were replaced by a NUL each before parsing."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._raw_depth = 0
        # Inside <kbd> (a key's name) or an element whose `lang` says it is in its own language
        # (a language's name for itself in a language menu): not words to translate.
        self._own_words: list[str] = []

    def _check(self, text: str) -> None:
        for part in text.split("\0"):
            part = part.strip()
            if part and part not in LITERALS and LETTER.search(part) and not ADDRESS_PART.fullmatch(part):
                self.found.append(part)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._raw_depth += 1
        if tag == "kbd" or (tag != "html" and any(name == "lang" for name, _value in attrs)):
            self._own_words.append(tag)
        for name, value in attrs:
            if name in READ_ATTRIBUTES and value:
                self._check(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._raw_depth = max(0, self._raw_depth - 1)
        if self._own_words and self._own_words[-1] == tag:
            self._own_words.pop()

    def handle_data(self, data: str) -> None:
        if not self._raw_depth and not self._own_words:
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
            elif name == "block" and token.contents.split()[1:2] in (["bodyclass"], ["coltype"]):
                inside = "endblock"  # the admin's blocks that fill a class attribute: class names, no words
            parts.append("\0")
        elif token.token_type == TokenType.TEXT and not inside:
            parts.append(token.contents)
        elif token.token_type == TokenType.VAR and not inside:
            parts.append("\0")
    parser = _Untranslated()
    parser.feed("".join(parts))
    parser.close()
    return parser.found
