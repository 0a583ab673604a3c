"""Template filters that name a message's author the one way pages and pushes name it."""

from __future__ import annotations

from typing import Any

from django import template

from conversations.selectors import author_name as _author_name

register = template.Library()


@register.filter
def author_name(user: Any) -> str:
    """The name conversations.push puts in a message's `author`; "" for none (the template
    then says who else wrote)."""
    return _author_name(user) if user is not None else ""
