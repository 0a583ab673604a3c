"""Template filters of the desk's pages: a message's author named the one way pages and pushes
name it, a call's seconds in words, and an agent's presence in words."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext

from conversations.selectors import author_name as _author_name
from conversations.supervision import PRESENCE_LABELS

register = template.Library()


@register.filter
def author_name(user: Any) -> str:
    """The name conversations.push puts in a message's `author`; "" for none (the template
    then says who else wrote)."""
    return _author_name(user) if user is not None else ""


@register.filter
def seconds_spoken(value: Any) -> str:
    """A number of seconds as a person reads a call's length or wait: "45 s", "1 min 35 s", "1 h 2 min"."""
    try:
        seconds = max(int(value), 0)
    except (TypeError, ValueError):
        return ""
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return gettext("%(h)d h %(m)d min") % {"h": hours, "m": minutes}
    if minutes:
        return gettext("%(m)d min %(s)d s") % {"m": minutes, "s": seconds}
    return gettext("%(s)d s") % {"s": seconds}


@register.filter
def presence_label(presence: str) -> str:
    """"Online", "Away", "Offline", in the reader's language (live.js writes the same words,
    given them by `conversations.live.live_labels`)."""
    return str(PRESENCE_LABELS.get(presence, presence))
