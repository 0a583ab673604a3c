"""Who may see what the integrations keep: the one module every integrations entry point asks.

- The local mailbox (what the SMTP sink received, /desk/mailbox/): supervisors only
  (supportdesk.access, one permission). Agents and other accounts are refused (403).
- Not found answers 404.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext

from integrations.models import MailboxMessage
from supportdesk.access import is_supervisor
from supportdesk.errors import DomainError, NotFound


class Forbidden(DomainError):
    code = "permission_denied"
    status_code = 403


def check_mailbox(*, user: Any) -> None:
    if not is_supervisor(user):
        raise Forbidden(gettext("Only supervisors may read the local mailbox."))


def access_mailbox_message(*, user: Any, message_id: int) -> MailboxMessage:
    check_mailbox(user=user)
    message = MailboxMessage.objects.filter(pk=message_id).first()
    if message is None:
        raise NotFound(gettext("Message %(id)s does not exist.") % {"id": message_id})
    return message
