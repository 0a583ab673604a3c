"""The desk's own inbound SMTP server (aiosmtpd), for on-premise use and the demo: mail to
any address at EMAIL_INBOUND_DOMAIN (support@, reply+<token>@) is stored raw as it arrives
(integrations.email_inbound) and answered 250 only once stored; anything else is refused,
so it is no open relay. A database that does not answer gets 451: the sender keeps the
message and tries again."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection, reset_queries

from integrations.email_inbound import EmailTooLarge, email_inbound_store
from integrations.smtp_server import envelope_bytes

log = logging.getLogger(__name__)

# Emails up to this size are stored by a few threads at once (a store mostly waits for
# PostgreSQL, so one thread for all of them made the sessions queue behind each other's
# commits); larger ones (attachments) by one thread, whose buffers each one reuses instead of
# every thread's allocator keeping a copy's worth.
SMALL_EMAIL_BYTES = 1 << 20
_small_stores = ThreadPoolExecutor(max_workers=4, thread_name_prefix="smtp-store")


def _store_from_thread(raw: bytes, *, envelope_from: str, envelope_to: list[str]) -> None:
    close_old_connections()  # a long-running server: never a connection PostgreSQL has dropped
    try:
        email_inbound_store(raw, source="smtp", envelope_from=envelope_from, envelope_to=envelope_to)
    finally:
        reset_queries()  # with DEBUG on, Django keeps each query with its values: a whole email each
        if len(raw) > SMALL_EMAIL_BYTES and connection.connection is not None:
            # libpq keeps a buffer as large as the largest statement a connection sent: a large
            # email's is not handed back to the pool, whose connections take turns.
            connection.connection.close()
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
            if len(raw) <= SMALL_EMAIL_BYTES:
                store = sync_to_async(_store_from_thread, thread_sensitive=False, executor=_small_stores)
            else:
                store = sync_to_async(_store_from_thread, thread_sensitive=True)
            await store(raw, envelope_from=str(envelope.mail_from or "<>"), envelope_to=list(envelope.rcpt_tos))
        except EmailTooLarge:
            return "552 5.3.4 Message too big"
        except Exception:
            log.warning("Could not store an inbound email; the sender will try again", exc_info=True)
            return "451 4.3.0 Requested action aborted: local error in processing"
        return "250 Message accepted for delivery"


DATA_END = b".\r\n"  # at the start of a line: the end of the data (RFC 5321, 4.1.1.4)


async def data_read(reader: asyncio.StreamReader, *, size_limit: int | None,
                    line_limit: int) -> tuple[bytes, str | None]:
    """A message's data, as aiosmtpd's DATA reads it, from the 354 up to the line that is a lone
    dot: (the data with its leading dots unstuffed, None), or (b"", the error reply) when it
    had a line longer than `line_limit` (500) or was longer than `size_limit` (552), read to
    its end all the same. aiosmtpd reads a line at a time, a Python round of its loop per line
    (a 50 KB HTML email has some 700 lines): this takes what arrived up to the next ".\r\n"
    in one go and checks whether that dot starts a line."""
    pieces: list[bytes] = []
    size, too_much = 0, False
    tail = b"\r\n"  # the data starts at the start of a line
    while True:
        try:
            piece = await reader.readuntil(DATA_END)
            found = True
        except asyncio.LimitOverrunError as error:  # no dot yet in what is buffered: take it
            piece = await reader.read(error.consumed)
            found = False
        if found and (tail + piece[-5:]).endswith(b"\r\n" + DATA_END):
            piece = piece[:-len(DATA_END)]
            last = True
        else:
            last = False
        size += len(piece)
        if size_limit and size > size_limit:
            too_much = True
            pieces.clear()  # not kept: only read to its end
        elif piece:
            pieces.append(piece)
        if last:
            break
        tail = (tail + piece)[-2:]
    if too_much:
        return b"", "552 Error: Too much mail data"
    data = b"".join(pieces)
    if _longest_line(data) > line_limit:
        return b"", "500 Line too long (see RFC5321 4.5.3.1.6)"
    if data.startswith(b"."):  # a dot the client doubled at the start of a line
        data = data[1:]
    return data.replace(b"\r\n.", b"\r\n"), None


def _longest_line(data: bytes) -> int:
    """The length of the data's longest line, with its CRLF (the data ends with one)."""
    if len(data) <= 1 << 20:  # split in C; a larger one (an attachment) line by line, to spare the copies
        return max(map(len, data.split(b"\r\n"))) + 2
    longest, start = 0, 0
    while start < len(data):
        end = data.find(b"\r\n", start)
        end = len(data) if end < 0 else end + 2
        longest = max(longest, end - start)
        start = end
    return longest


class InboundSMTP(SMTP):
    """aiosmtpd's SMTP session with the message's data read by `data_read`: the same replies,
    the same end of data, dots and limits, for a fraction of the CPU per message."""

    async def smtp_DATA(self, arg: str) -> None:
        if self._decode_data:  # a decoded (text) message: aiosmtpd's own way
            await super().smtp_DATA(arg)
            return
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        data, error = await data_read(self._reader, size_limit=self.data_size_limit,
                                      line_limit=self.line_length_limit)
        if error is not None:
            self._set_post_data_state()
            await self.push(error)
            return
        self.envelope.content = self.envelope.original_content = data
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)


class InboundController(Controller):
    def factory(self) -> SMTP:
        return InboundSMTP(self.handler, **self.SMTP_kwargs)


def inbound_controller(*, host: str, port: int) -> Any:
    """An aiosmtpd Controller (its own thread and event loop) serving the inbound server."""
    return InboundController(InboundHandler(), hostname=host, port=port,
                             data_size_limit=settings.EMAIL_INBOUND_MAX_BYTES)
