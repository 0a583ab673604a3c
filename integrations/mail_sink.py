"""The desk's local SMTP sink: a real SMTP server (aiosmtpd) that keeps what it receives.

`make run` starts it (`manage.py smtp_sink`) and EMAIL_URL points at it by default, so a new
user sees the desk's emails arrive on /desk/mailbox/ (supervisors). A message is stored once
per Message-ID; the same message sent again is counted, not shown twice.
"""

from __future__ import annotations

import hashlib
from email import policy
from email.parser import BytesParser
from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from integrations.models import MailboxMessage
from integrations.smtp_server import envelope_bytes

BODY_MAX_CHARS = 200_000


def mailbox_store(*, mail_from: str, recipients: list[str], raw: bytes) -> MailboxMessage:
    """Keep one received message (or count it again, when its Message-ID is known)."""
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    message_id = str(parsed.get("Message-ID", "") or "").strip()
    if not message_id:  # a sender that sets none: the content stands for the message
        message_id = f"<{hashlib.sha256(raw).hexdigest()}@sink.invalid>"
    part = parsed.get_body(preferencelist=("plain", "html"))
    try:
        body = part.get_content() if part is not None else ""
    except (LookupError, ValueError):  # an unknown charset or a broken encoding: keep it readable
        body = part.get_payload(decode=True).decode("utf-8", "replace") if part is not None else ""
    body = body.replace("\r\n", "\n")  # the wire's line ends, not the text's
    with transaction.atomic():
        stored, created = MailboxMessage.objects.get_or_create(
            message_id=message_id[:998],
            defaults={"mail_from": mail_from[:998], "recipients": "\n".join(recipients),
                      "subject": str(parsed.get("Subject", "") or ""), "body": body[:BODY_MAX_CHARS],
                      "raw": raw.decode("utf-8", "replace")},
        )
        if not created:
            MailboxMessage.objects.filter(pk=stored.pk).update(
                times_received=F("times_received") + 1, last_received_at=timezone.now())
            stored.refresh_from_db()
    return stored


def _store_from_thread(**kwargs: Any) -> MailboxMessage:
    # A long-running server: never hold a connection PostgreSQL has since dropped.
    close_old_connections()
    try:
        return mailbox_store(**kwargs)
    finally:
        close_old_connections()


class SinkHandler:
    """aiosmtpd's handler: every message accepted is stored before the 250 answer."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope_bytes(envelope)
        try:
            await sync_to_async(_store_from_thread, thread_sensitive=False)(
                mail_from=str(envelope.mail_from or ""), recipients=list(envelope.rcpt_tos), raw=raw)
        except Exception:  # the database is down: the sender keeps the message and tries again
            return "451 Requested action aborted: local error in processing"
        return "250 Message accepted for delivery"


def sink_controller(*, host: str, port: int) -> Any:
    """An aiosmtpd Controller (its own thread and event loop) serving the sink; start() it."""
    from aiosmtpd.controller import Controller

    return Controller(SinkHandler(), hostname=host, port=port)


def mailbox_messages() -> QuerySet[MailboxMessage]:
    """What the sink received, newest first (the list shows no body or raw text)."""
    return MailboxMessage.objects.defer("body", "raw").order_by("-received_at", "-id")
