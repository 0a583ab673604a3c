"""Who is who, for every layer: the one definition of a supervisor and of an integration.

Each app keeps its own access module (conversations.access, routing.access,
timeline.access) for its objects; they all ask here what a role is. "Supervisor" is a
permission (`supportdesk.supervise`), never `is_staff`: staff only opens the admin, where
Django's own permissions decide. An agent is someone with an agent profile, which routing
owns; routing registers that role here (`desk_role_register`) so the layers below it
(timeline) can still tell a desk user from any other account without importing upward.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

SUPERVISE = "supportdesk.supervise"
INTEGRATE = "supportdesk.integrate"

_desk_roles: dict[str, Callable[[Any], bool]] = {}


def _signed_in(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def is_supervisor(user: Any) -> bool:
    """May see and act on every conversation, queue and contact (desk, API and sockets)."""
    return _signed_in(user) and user.has_perm(SUPERVISE)


def is_integration(user: Any) -> bool:
    """An integration's own account (its API token): it speaks for contacts, nothing more."""
    return _signed_in(user) and user.has_perm(INTEGRATE)


def desk_role_register(name: str, predicate: Callable[[Any], bool]) -> None:
    """A higher layer tells the core about a role of the desk (routing: agents)."""
    _desk_roles[name] = predicate


def is_desk_user(user: Any) -> bool:
    """An agent or a supervisor: someone the desk (its pages, API and sockets) serves."""
    return _signed_in(user) and (is_supervisor(user) or any(role(user) for role in _desk_roles.values()))


def session_is_current(*, session_key: str | None, user: Any) -> bool:
    """Whether the login a long-lived connection (a websocket) was opened with still stands:
    the session exists, is still this user's, and their password has not changed since."""
    if not session_key or user is None:
        return False
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    if str(session.get(SESSION_KEY, "")) != str(user.pk):
        return False
    current = get_user_model().objects.filter(pk=user.pk, is_active=True).first()
    session_hash = session.get(HASH_SESSION_KEY) or ""
    return current is not None and constant_time_compare(session_hash, current.get_session_auth_hash())


# --- DRF permissions: the same predicates at the API's door ------------------------------------


class IsSupervisor(BasePermission):
    message = _("Only supervisors may do this.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_supervisor(request.user)


class IsDeskUser(BasePermission):
    """The API's default: an agent or a supervisor. Any other account (no agent profile, staff
    without the supervisor permission) is refused with 403."""

    message = _("The desk's API is for agents and supervisors.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_desk_user(request.user)


class IsDeskUserOrIntegration(BasePermission):
    message = _("The desk's API is for agents, supervisors and integrations.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_desk_user(request.user) or is_integration(request.user)
