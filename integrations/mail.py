"""Outgoing email, for now: Django's email framework over a real SMTP connection (EMAIL_URL).

Every send carries a Message-ID derived from its idempotency key, so a retried send (a task run
again, a worker restarted mid-send) is the same message to whoever receives it: the desk's local
sink (integrations.mail_sink) counts it once; a real provider's threading and deduplication see
one message too. Errors say whether trying again can help (`MailTransientError`: the server is
unreachable, busy or answered 4xx) or not (`MailPermanentError`: a bad address, a 5xx refusal).
"""

from __future__ import annotations

import json
import smtplib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import BadHeaderError, EmailMessage, get_connection
from django.core.validators import validate_email
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext

from integrations.email_frame import automated_framed, frame_language
from integrations.email_threads import thread_ref_record


class MailError(Exception):
    pass


class MailTransientError(MailError):
    """Trying again later may work (server unreachable, 4xx, connection dropped)."""


class MailPermanentError(MailError):
    """Trying again will not help (invalid address, refused with 5xx, a header with a newline)."""


@dataclass(frozen=True)
class SentMail:
    message_id: str
    to: str


def message_id_for(idempotency_key: str) -> str:
    """The Message-ID of the one message an idempotency key stands for (RFC 5322 msg-id)."""
    if not idempotency_key:
        raise ValueError("An email needs an idempotency key (its Message-ID is derived from it).")
    # Keyed with the desk's secret: nobody outside can tell a reply's Message-ID (a forged
    # bounce naming it would mark it failed).
    digest = salted_hmac("integrations.mail.message-id", idempotency_key, algorithm="sha256").hexdigest()[:40]
    return f"<{digest}@{settings.EMAIL_MESSAGE_ID_DOMAIN}>"


def _smtp_code(error: smtplib.SMTPException) -> int | None:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _message in error.recipients.values()]
        return min(codes) if codes else None
    return getattr(error, "smtp_code", None)


# The desk's reference of an email (its Message-ID) as the providers' tracking reports carry it
# back: Mailgun's user variables (X-Mailgun-Variables) and Postmark's metadata (X-PM-Metadata-*)
# set on the message as it is relayed through them (integrations.email_webhooks reads them).
TRACKING_REFERENCE = "desk_reference"


def _tracking_headers(message_id: str) -> dict[str, str]:
    return {"X-Mailgun-Variables": json.dumps({TRACKING_REFERENCE: message_id}),
            f"X-PM-Metadata-{TRACKING_REFERENCE}": message_id}


def mail_send(*, to: str, subject: str, body: str, idempotency_key: str,
              from_email: str | None = None, headers: dict[str, str] | None = None) -> SentMail:
    """Send one plain-text email now, over the connection EMAIL_URL names."""
    try:
        validate_email(to)
    except ValidationError:
        raise MailPermanentError(gettext("%(address)r is not an email address.") % {"address": to}) from None
    message_id = message_id_for(idempotency_key)
    message = EmailMessage(
        subject=subject, body=body, from_email=from_email or settings.DEFAULT_FROM_EMAIL, to=[to],
        headers={**(headers or {}), **_tracking_headers(message_id), "Message-ID": message_id},
        connection=get_connection(fail_silently=False),
    )
    try:
        message.send(fail_silently=False)
    except BadHeaderError as error:
        raise MailPermanentError(str(error)) from error
    except smtplib.SMTPException as error:
        code = _smtp_code(error)
        if code is not None and 500 <= code < 600:
            raise MailPermanentError(gettext("The mail server refused the message to %(to)s: %(error)s")
                                     % {"to": to, "error": error}) from error
        raise MailTransientError(gettext("The mail server did not take the message to %(to)s: %(error)s")
                                 % {"to": to, "error": error}) from error
    except OSError as error:  # refused, unreachable, timed out, TLS failed
        raise MailTransientError(gettext("The mail server at %(host)s:%(port)s is unreachable: %(error)s") % {
            "host": settings.EMAIL_HOST, "port": settings.EMAIL_PORT, "error": error}) from error
    return SentMail(message_id=message_id, to=to)


# --- the "email" channel of workflows (registered in IntegrationsConfig.ready) ---------------------


def email_channel_send(contact: Any, rendered: Any, *, idempotency_key: str, context: Any = None) -> str:
    """workflows.registry's channel interface: send a rendered template to the contact's email;
    the reference is the Message-ID. A transient failure is retried by the engine with the
    same key (so the same Message-ID); a permanent one fails the step."""
    from workflows.registry import StepFailed, StepRetry

    address = (getattr(contact, "email", "") or "").strip()
    if not address:
        raise StepFailed(gettext("The contact has no email address."))
    language = getattr(rendered, "language", "") or ""
    # The desk's footer in the text's language when the desk ships it, else the contact's.
    body = automated_framed(rendered.body,
                            language=frame_language(language, getattr(contact, "preferred_language", "")))
    try:
        # Sent by a workflow, not a person: RFC 3834 asks autoresponders not to answer it.
        headers = {"Auto-Submitted": "auto-generated", **({"Content-Language": language} if language else {})}
        sent = mail_send(to=address, subject=rendered.subject, body=body, idempotency_key=idempotency_key,
                         headers=headers)
    except MailPermanentError as error:
        raise StepFailed(str(error)) from error
    except MailTransientError as error:
        raise StepRetry(str(error)) from error
    # The contact's answer to it opens a conversation, which the rest of its thread joins.
    thread_ref_record(message_id=sent.message_id, contact_id=contact.pk, conversation_id=None, outbound=True)
    return sent.message_id
