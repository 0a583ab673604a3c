"""PostgreSQL down, restarting or unreachable: what every entry point answers instead of a 500.

One test (`database_unavailable`) and one answer (503, `Retry-After`, code "unavailable"), used
by the middleware and the 500 handler (pages), the REST API's exception handler and the
websocket consumers, so a client can always tell "try again shortly" from a bug.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils.translation import gettext_lazy as _

from supportdesk.errors import error_body
from supportdesk.protocol import CloseCode

log = logging.getLogger(__name__)

CODE = "unavailable"
MESSAGE = _("The desk cannot reach its database just now; try again in a few seconds.")
TRY_AGAIN_LATER = CloseCode.TRY_AGAIN_LATER  # named in supportdesk.protocol, with the JS's copy


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database could not be reached or dropped the connection.

    Django wraps the driver's errors (a pool timeout included: psycopg_pool.PoolTimeout is
    a psycopg OperationalError); the hot path on the event loop raises psycopg's own.
    OperationalError also covers deadlocks and cancelled statements: transient too, so
    "try again" is the honest answer for them as well."""
    return isinstance(exc, (OperationalError, InterfaceError, psycopg.OperationalError,
                            psycopg.InterfaceError))


def retry_after_seconds() -> int:
    return settings.DATABASE_UNAVAILABLE_RETRY_AFTER_SECONDS


def unavailable_body() -> dict[str, Any]:
    return error_body(CODE, str(MESSAGE))


def unavailable_frame() -> dict[str, Any]:
    """The websocket error frame (conversations.consumers' shape) for an unreachable database."""
    return {"type": "error", "code": CODE, "message": str(MESSAGE), "retry_after": retry_after_seconds()}


class WebsocketDatabaseGuard:
    """ASGI middleware around the websocket stack. Channels' AuthMiddleware reads the session
    and the user from the database before any consumer runs; while PostgreSQL cannot be
    reached that would fail the handshake with a bare 500. Instead the socket is accepted,
    told why in an error frame, and closed "try again later" (the consumers handle what
    fails once they run)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        answered = connect_received = False

        async def tracked_receive() -> dict[str, Any]:
            nonlocal connect_received
            message = await receive()
            connect_received = connect_received or message["type"] == "websocket.connect"
            return message

        async def tracked_send(message: dict[str, Any]) -> None:
            nonlocal answered
            answered = True
            await send(message)

        try:
            return await self.app(scope, tracked_receive, tracked_send)
        except Exception as exc:
            if answered or not database_unavailable(exc):
                raise
            log.warning("Websocket %s: database unavailable before connecting: %s", scope.get("path"), exc)
            if not connect_received:
                await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": json.dumps(unavailable_frame())})
            await send({"type": "websocket.close", "code": TRY_AGAIN_LATER})
