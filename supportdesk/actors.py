"""How the timeline and messages name who did something: "oms", "system", "user:<id>", ...

Stored as these short strings (an actor outlives a renamed or deleted user); shown to people
through `actor_names`, which turns them into names, and `staff_name`, the one way the desk
names a user.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from supportdesk.ids import id_from_text

USER_PREFIX = "user:"
WORKFLOW_PREFIX = "workflow:"  # "workflow:<workflow id>:<run id>", written by workflows' runs

# Actors that are not people, as the desk names them.
KNOWN_ACTORS = {
    "system": _("the desk"),
    "oms": _("the order system"),
    "widget": _("the chat widget"),
    "routing": _("routing"),
    "contact": _("the contact"),
}


def user_actor(user: Any, *, default: str = "system") -> str:
    """The actor string for a user, or `default` when nobody in particular acted."""
    return f"{USER_PREFIX}{user.pk}" if user is not None else default


def staff_name(user: Any) -> str:
    """How the desk names one of its users (agents, supervisors): full name, else username."""
    return user.get_full_name() or user.get_username()


def actor_names(actors: Iterable[str]) -> dict[str, str]:
    """Actor string -> what a person reads, for a page of events in one query: users by
    name ("user:3" -> "Marta Ruiz"), a deleted user as "a former user", known systems by
    their label, anything else as stored."""
    actors = set(actors)
    user_ids = {user_id for actor in actors
                if actor.startswith(USER_PREFIX) and (user_id := id_from_text(actor.removeprefix(USER_PREFIX)))}
    users = {user.pk: user for user in get_user_model().objects.filter(pk__in=user_ids)} if user_ids else {}
    names: dict[str, str] = {}
    for actor in actors:
        suffix = actor.removeprefix(USER_PREFIX)
        if actor.startswith(USER_PREFIX) and (user_id := id_from_text(suffix)) is not None:
            user = users.get(user_id)
            names[actor] = staff_name(user) if user is not None else str(_("a former user"))
        elif actor.startswith(WORKFLOW_PREFIX):
            names[actor] = str(_("a workflow"))
        else:
            names[actor] = str(KNOWN_ACTORS.get(actor, actor))
    return names
