"""What a reply records it inserted (Message.inserted): the composer sends the labels of the
macros, articles and suggestions the agent put in; they are checked here before they are kept."""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext as _

from conversations.models import Macro
from conversations.suggestions.articles import articles_known
from supportdesk.errors import DomainError

KINDS = ("macro", "article")  # what a reply inserts; a label is "<kind>:<shortcut or key>"
LABEL = re.compile(r"(macro|article):([-a-zA-Z0-9_]{1,80})")
MAX_LABELS = 10


def macro_label(shortcut: str) -> str:
    return f"macro:{shortcut}"


def article_label(key: str) -> str:
    return f"article:{key}"


def inserted_check(value: Any) -> list[str]:
    """The labels a reply inserted, from a form's space-separated text or an API's list: a clear
    error for a malformed one; a macro or an article that is no longer there (deleted while the
    reply was written) is left out, so the reply still goes."""
    if value in (None, ""):
        return []
    labels = value.split() if isinstance(value, str) else value
    if not isinstance(labels, list | tuple) or len(labels) > MAX_LABELS or not all(
            isinstance(label, str) and LABEL.fullmatch(label) for label in labels):
        raise DomainError(_("inserted lists at most %(count)d labels such as macro:refund or "
                            "article:where-is-my-order.") % {"count": MAX_LABELS}, code="inserted_invalid")
    labels = list(dict.fromkeys(labels))  # each once, in order
    parsed = [LABEL.fullmatch(label).groups() for label in labels]
    macros = set(Macro.objects.filter(shortcut__in=[key for kind, key in parsed if kind == "macro"])
                 .values_list("shortcut", flat=True))
    articles = articles_known(keys=[key for kind, key in parsed if kind == "article"])
    return [label for label, (kind, key) in zip(labels, parsed, strict=True)
            if key in (macros if kind == "macro" else articles)]
