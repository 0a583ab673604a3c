"""How the timeline and messages name who did something: "oms", "system", "user:<id>", ..."""

from __future__ import annotations

from typing import Any


def user_actor(user: Any, *, default: str = "system") -> str:
    """The actor string for a user, or `default` when nobody in particular acted."""
    return f"user:{user.pk}" if user is not None else default
