"""The chat widget's two tokens.

- The **identity token** comes from the host site: a JWT (HS256) it signs with
  `WIDGET_IDENTITY_SECRET`, saying who the visitor is:
  `{"sub": "<external id>", "kind": "customer|courier|partner", "name": "...",
  "email": "...", "language": "es", "exp": <unix time>}`. Any language has a JWT library,
  so any host site can make one. Without it the visitor is anonymous.
- The **session token** is the desk's own: it names the contact the widget speaks for (and
  the widget's language setting, which the socket cannot read otherwise) and is signed with
  the desk's SECRET_KEY. The widget keeps it and presents it to the socket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from django.conf import settings
from django.core import signing
from django.utils.translation import gettext

from supportdesk.errors import DomainError
from timeline.models import ContactKind

SESSION_SALT = "conversations.widget.session"
LANGUAGE_MAX = 16


class TokenInvalid(DomainError):
    code = "token_invalid"
    status_code = 401


@dataclass(frozen=True)
class Identity:
    external_id: str
    kind: str
    name: str = ""
    email: str = ""
    language: str = ""


def identity_decode(token: str) -> Identity:
    """The visitor the host site vouches for; TokenInvalid says what is wrong with the token."""
    try:
        claims = jwt.decode(token, settings.WIDGET_IDENTITY_SECRET, algorithms=["HS256"],
                            options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError:
        raise TokenInvalid("The identity token has expired; the host page must sign a new one.") from None
    except jwt.InvalidTokenError as exc:
        raise TokenInvalid(f"The identity token is not valid: {exc}.") from None
    kind = claims.get("kind", ContactKind.CUSTOMER)
    if kind not in ContactKind.values:
        raise TokenInvalid(f"Unknown contact kind {kind!r}; use one of {', '.join(ContactKind.values)}.")
    external_id = claims["sub"]
    if not isinstance(external_id, str) or not external_id.strip() or len(external_id) > 128:
        raise TokenInvalid("The identity token's sub must be the contact's id (1-128 characters).")

    def text(name: str, limit: int) -> str:
        value = claims.get(name) or ""
        if not isinstance(value, str):
            raise TokenInvalid(f"The identity token's {name} must be text.")
        return value.strip()[:limit]

    return Identity(external_id=external_id.strip(), kind=kind, name=text("name", 200),
                    email=text("email", 254), language=text("language", LANGUAGE_MAX).lower())


def identity_encode(identity: Identity, *, lifetime: timedelta = timedelta(hours=1)) -> str:
    """What a host site does (the demo page, tests): sign who the visitor is."""
    from django.utils import timezone

    claims: dict[str, Any] = {"sub": identity.external_id, "kind": identity.kind,
                              "exp": timezone.now() + lifetime}
    claims.update({name: value for name, value in (("name", identity.name), ("email", identity.email),
                                                   ("language", identity.language)) if value})
    return jwt.encode(claims, settings.WIDGET_IDENTITY_SECRET, algorithm="HS256")


@dataclass(frozen=True)
class Session:
    """Who a widget speaks for: a known contact, or an anonymous visitor who has not
    written yet (their contact is made with their first message, not on every page view)."""

    contact_id: int | None = None
    visitor: str = ""
    # The widget's language setting (the host's data-language) when the session started: the
    # socket speaks it to a visitor whose contact has no language of their own.
    language: str = ""

    @property
    def visitor_external_id(self) -> str:
        return f"visitor-{self.visitor}"


def session_encode(session: Session) -> str:
    payload: dict[str, Any] = {"c": session.contact_id} if session.contact_id else {"v": session.visitor}
    if session.language:
        payload["l"] = session.language
    return signing.dumps(payload, salt=SESSION_SALT, compress=False)


def session_decode(token: str) -> Session:
    try:
        data = signing.loads(token, salt=SESSION_SALT,
                             max_age=timedelta(days=settings.WIDGET_SESSION_DAYS))
    except signing.SignatureExpired:
        raise TokenInvalid(gettext("The chat session has expired; reload the page to start again.")) from None
    except signing.BadSignature:
        raise TokenInvalid(gettext("The chat session token is not valid.")) from None
    language = data.get("l") if isinstance(data, dict) else ""
    language = language if isinstance(language, str) and len(language) <= LANGUAGE_MAX else ""
    if isinstance(data, dict) and isinstance(data.get("c"), int):
        return Session(contact_id=data["c"], language=language)
    if isinstance(data, dict) and isinstance(data.get("v"), str) and data["v"]:
        return Session(visitor=data["v"], language=language)
    raise TokenInvalid(gettext("The chat session token is not valid."))
