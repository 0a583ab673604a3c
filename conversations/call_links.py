"""The call invitation link (seed 002): a signed, timestamped token naming one invitation.

Built the way the satisfaction survey's link is (workflows.surveys.links: django.core.signing
with a salt of its own, refused as `link_invalid` 400 when the signature does not match and
`link_expired` 410 when it is too old); that module sits in a higher layer, so the few lines
are repeated here instead of imported. The token says which invitation and when it was signed,
nothing a person could change. Single use is the invitation's business, not the link's: once
answered, the invitation is no longer `sent` (services.proactive_calls refuses a second answer).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from conversations.models import CallInvitation
from supportdesk.errors import DomainError
from supportdesk.ids import id_from_text

SALT = "conversations.call_invitation.link"
# A call offered now is about now: the customer answers within the half hour, or asks again.
LINK_MAX_AGE = timedelta(minutes=30)
TOKEN_MAX_CHARS = 512
INVALID = _("This call link is not valid. Please check that you copied all of it.")


class LinkInvalid(DomainError):
    code = "link_invalid"
    status_code = 400


class LinkExpired(DomainError):
    code = "link_expired"
    status_code = 410


def call_invitation_token(invitation: CallInvitation) -> str:
    return signing.dumps({"i": invitation.pk}, salt=SALT, compress=False)


def call_invitation_url(invitation: CallInvitation) -> str:
    """The absolute link the customer opens (DESK_PUBLIC_URL + the consent page)."""
    token = call_invitation_token(invitation)
    return settings.DESK_PUBLIC_URL + reverse("call-invitation", kwargs={"token": token})


def expired_message() -> str:
    return str(_("This call link has expired. Ask us in the chat for a new one if you still want a call."))


def call_invitation_from_token(token: str) -> CallInvitation:
    """The invitation a link names, or LinkInvalid / LinkExpired saying what is wrong with it."""
    if len(token) > TOKEN_MAX_CHARS:
        raise LinkInvalid(str(INVALID))
    try:
        payload = signing.loads(token, salt=SALT, max_age=LINK_MAX_AGE)
    except signing.SignatureExpired:
        raise LinkExpired(expired_message()) from None
    except signing.BadSignature:
        raise LinkInvalid(str(INVALID)) from None
    invitation_id = id_from_text(str(payload.get("i", ""))) if isinstance(payload, dict) else None
    invitation = (CallInvitation.objects.select_related("conversation__contact", "agent")
                  .filter(pk=invitation_id).first() if invitation_id else None)
    if invitation is None:
        raise LinkInvalid(str(INVALID))
    return invitation
