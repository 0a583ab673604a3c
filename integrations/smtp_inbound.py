"""The desk's own inbound SMTP server (aiosmtpd), for on-premise use and the demo: mail to
any address at EMAIL_INBOUND_DOMAIN (support@, reply+<token>@) is stored raw as it arrives
(integrations.email_inbound) and answered 250 only once stored; anything else is refused,
so it is no open relay. A database that does not answer gets 451: the sender keeps the
message and tries again."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, reset_queries

from integrations.email_inbound import EmailTooLarge, email_inbound_store
from integrations.smtp_server import envelope_bytes

log = logging.getLogger(__name__)


def _store_from_thread(raw: bytes, *, envelope_from: str, envelope_to: list[str]) -> None:
    close_old_connections()  # a long-running server: never a connection PostgreSQL has dropped
    try:
        email_inbound_store(raw, source="smtp", envelope_from=envelope_from, envelope_to=envelope_to)
    finally:
        reset_queries()  # with DEBUG on, Django keeps each query with its values: a whole email each
        close_old_connections()


class InboundHandler:
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list) -> str:
        if not address.lower().endswith("@" + settings.EMAIL_INBOUND_DOMAIN.lower()):
            return "550 5.7.1 Relaying denied: this server takes mail for " + settings.EMAIL_INBOUND_DOMAIN
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope_bytes(envelope)
        try:
            # A null return path (MAIL FROM:<>) marks bounces and auto-replies: kept as "<>".
            # One thread for every store (thread_sensitive): a 20 MB email's buffers are reused
            # there instead of each pool thread's allocator keeping a copy's worth.
            await sync_to_async(_store_from_thread, thread_sensitive=True)(
                raw, envelope_from=str(envelope.mail_from or "<>"), envelope_to=list(envelope.rcpt_tos))
        except EmailTooLarge:
            return "552 5.3.4 Message too big"
        except Exception:
            log.warning("Could not store an inbound email; the sender will try again", exc_info=True)
            return "451 4.3.0 Requested action aborted: local error in processing"
        return "250 Message accepted for delivery"


def inbound_controller(*, host: str, port: int) -> Any:
    """An aiosmtpd Controller (its own thread and event loop) serving the inbound server."""
    from aiosmtpd.controller import Controller

    return Controller(InboundHandler(), hostname=host, port=port,
                      data_size_limit=settings.EMAIL_INBOUND_MAX_BYTES)
