"""The call invitation link (seed 002): a signed, timestamped token naming one invitation.

Built as every signed link is (supportdesk.signed_links: refused as `link_invalid` 400 when the
signature does not match and `link_expired` 410 when it is too old). The token says which
invitation and when it was signed, nothing a person could change. Single use is the
invitation's business, not the link's: once answered, the invitation is no longer `sent`
(services.proactive_calls refuses a second answer).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from conversations.models import CallInvitation
from supportdesk.signed_links import LinkExpired, LinkInvalid, signed_link_id, signed_link_token

__all__ = ["LINK_MAX_AGE", "LinkExpired", "LinkInvalid", "call_invitation_from_token", "call_invitation_token",
           "call_invitation_url", "expired_message"]

SALT = "conversations.call_invitation.link"
# A call offered now is about now: the customer answers within the half hour, or asks again.
LINK_MAX_AGE = timedelta(minutes=30)
INVALID = _("This call link is not valid. Please check that you copied all of it.")


def call_invitation_token(invitation: CallInvitation) -> str:
    return signed_link_token(salt=SALT, key="i", row_id=invitation.pk)


def call_invitation_url(invitation: CallInvitation) -> str:
    """The absolute link the customer opens (DESK_PUBLIC_URL + the consent page)."""
    token = call_invitation_token(invitation)
    return settings.DESK_PUBLIC_URL + reverse("call-invitation", kwargs={"token": token})


def expired_message() -> str:
    return str(_("This call link has expired. Ask us in the chat for a new one if you still want a call."))


def call_invitation_from_token(token: str) -> CallInvitation:
    """The invitation a link names, or LinkInvalid / LinkExpired saying what is wrong with it."""
    invitation_id = signed_link_id(token, salt=SALT, key="i", max_age=LINK_MAX_AGE, invalid=str(INVALID),
                                   expired=expired_message())
    invitation = CallInvitation.objects.select_related("conversation__contact", "agent").filter(
        pk=invitation_id).first()
    if invitation is None:
        raise LinkInvalid(str(INVALID))
    return invitation
