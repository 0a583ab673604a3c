"""Who may use the help center's entry points: the one place they check (DESIGN.md).

The public pages are for everyone, but only what is published: `version_public` is the only
way a page reaches a version (`version_published` the widget's, by id), so a draft answers the
same 404 as a slug that does not exist. Searching from the agent workspace (the API) is for
agents and supervisors, the core's one definition of a desk user. Recording what a widget
visitor read is for the holder of that visitor's session token (`widget_visitor`).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from conversations import widget
from helpcenter.languages import is_help_language
from helpcenter.models import ArticleVersion, VersionStatus
from supportdesk.access import is_desk_user
from supportdesk.errors import NotFound


def may_search_from_desk(user: Any) -> bool:
    """The workspace's article search: agents and supervisors."""
    return is_desk_user(user)


class MaySearchFromDesk(BasePermission):
    message = _("The help center's search API is for agents and supervisors.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return may_search_from_desk(request.user)


def _address_readable(*parts: str) -> None:
    """An address PostgreSQL can look up: a NUL in a path segment is no article (404), not an error."""
    if any("\x00" in part for part in parts):
        raise NotFound(str(_("There is no such article in the help center.")))


def language_public(language: str) -> str:
    """A language the help center is written in, or NotFound."""
    if not is_help_language(language):
        raise NotFound(str(_("The help center is not available in this language.")), code="unknown_language")
    return language


def category_readable(slug: str) -> None:
    _address_readable(slug)


def version_public(*, language: str, category_slug: str, slug: str) -> ArticleVersion:
    """The published version at this address, with its article and category; NotFound for a
    draft, an inactive category or an address that does not exist alike."""
    language_public(language)
    _address_readable(category_slug, slug)
    version = (ArticleVersion.objects.select_related("article__category")
               .filter(language=language, slug=slug, status=VersionStatus.PUBLISHED,
                       article__category__slug=category_slug, article__category__is_active=True)
               .first())
    if version is None:
        raise NotFound(str(_("There is no such article in the help center.")))
    return version


def may_write_articles(user: Any) -> bool:
    """Categories and articles are written by supervisors, in the admin."""
    from supportdesk.access import is_supervisor

    return is_supervisor(user)


def version_published(version_id: int) -> ArticleVersion:
    """A published version by its id, with its article and category (the widget opens articles
    by id); NotFound for a draft, an inactive category or an id that does not exist alike."""
    version = (ArticleVersion.objects.select_related("article__category")
               .filter(pk=version_id, status=VersionStatus.PUBLISHED, article__category__is_active=True)
               .first())
    if version is None:
        raise NotFound(str(_("There is no such article in the help center.")))
    return version


def widget_visitor(token: Any) -> widget.Session:
    """The widget visitor a session token names (conversations.widget): recording what they
    read is theirs alone; TokenInvalid (401) otherwise."""
    if not isinstance(token, str) or not token.strip() or len(token) > WIDGET_TOKEN_MAX_CHARS:
        raise widget.TokenInvalid("Send the widget's session token as `session`.")
    return widget.session_decode(token.strip())


WIDGET_TOKEN_MAX_CHARS = 4096
