"""Signed links a customer opens (a survey's rating page, a call invitation's consent page): a
timestamped token naming one row (django.core.signing, a salt per kind of link), nothing a
person could change. A token whose signature does not match (forged, cut short, edited) is
`link_invalid` (400); one signed longer ago than the link's age is `link_expired` (410). Each
kind of link keeps its own words and decides what else makes it unusable (single use, a
withdrawn survey)."""

from __future__ import annotations

from datetime import timedelta

from django.core import signing

from supportdesk.errors import DomainError
from supportdesk.ids import id_from_text

TOKEN_MAX_CHARS = 512  # far above any token signed here; longer ones are not even checked


class LinkInvalid(DomainError):
    code = "link_invalid"
    status_code = 400


class LinkExpired(DomainError):
    code = "link_expired"
    status_code = 410


def signed_link_token(*, salt: str, key: str, row_id: int) -> str:
    return signing.dumps({key: row_id}, salt=salt, compress=False)


def signed_link_id(token: str, *, salt: str, key: str, max_age: timedelta, invalid: str, expired: str) -> int:
    """The id a link's token names, or LinkInvalid (`invalid`) / LinkExpired (`expired`)."""
    if len(token) > TOKEN_MAX_CHARS:
        raise LinkInvalid(invalid)
    try:
        payload = signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired:
        raise LinkExpired(expired) from None
    except signing.BadSignature:
        raise LinkInvalid(invalid) from None
    row_id = id_from_text(str(payload.get(key, ""))) if isinstance(payload, dict) else None
    if not row_id:
        raise LinkInvalid(invalid)
    return row_id
