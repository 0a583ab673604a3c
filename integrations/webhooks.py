"""The OMS webhook as a bare ASGI endpoint, in front of Django's request machinery.

The OMS may post thousands of events a second. Through Django's ASGI handler every
request would cross into the single sync thread once per middleware (sessions, CSRF,
auth, messages: none of which a signed machine-to-machine call needs); here it crosses
once, to verify, validate and store, and the rest stays on the event loop. Channels'
AsyncHttpConsumer is not used because it opens a channel-layer channel in Redis for
every request. Like a view, this only parses the request, calls one service and shapes
the JSON answer; `supportdesk.asgi` routes the path here.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import DatabaseError, DataError, InterfaceError, OperationalError, connection

from integrations import services
from integrations.oms import schema, signature
from supportdesk.errors import error_body

logger = logging.getLogger(__name__)

Answer = tuple[int, dict[str, Any], dict[str, str]]


async def oms_webhook(scope: dict, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        raise ValueError(f"The OMS webhook serves HTTP, not {scope['type']}.")
    if scope["method"] != "POST":
        await _respond(send, (405, error_body("method_not_allowed", "Send OMS events with POST."),
                              {"Allow": "POST"}))
        return
    body = await _body(receive, limit=settings.OMS_WEBHOOK_MAX_BODY_BYTES)
    if body is None:
        await _respond(send, (413, error_body(
            "payload_too_large",
            f"The body is over the limit of {settings.OMS_WEBHOOK_MAX_BODY_BYTES} bytes.",
        ), {}))
        return
    headers = {name.decode("latin-1").lower(): value.decode("latin-1")
               for name, value in scope.get("headers", [])}
    answer = await sync_to_async(oms_webhook_answer, thread_sensitive=False)(
        body=body,
        timestamp=headers.get(signature.TIMESTAMP_HEADER.lower()),
        signature_header=headers.get(signature.SIGNATURE_HEADER.lower()),
    )
    await _respond(send, answer)


def oms_webhook_answer(*, body: bytes, timestamp: str | None, signature_header: str | None) -> Answer:
    """Call the intake service and turn its outcome into (status, JSON body, headers).

    Runs in one of the event loop's worker threads, between Django's request signals as
    its own handler sends them, so the thread's database connection goes back to the pool
    afterwards. A pooled connection that broke meanwhile (a database restart) is replaced
    and the delivery tried once more, which is safe: storing is idempotent on the event id.
    """
    request_started.send(sender=__name__)
    try:
        return _answer(body=body, timestamp=timestamp, signature_header=signature_header)
    except Exception:
        # A bug, not the sender's doing: logged, and answered in the documented shape rather
        # than left to the ASGI server's bare 500 (the fuzz tests keep this path unused).
        logger.exception("The OMS webhook failed on a delivery")
        return 500, error_body("internal_error", "The event could not be handled; send it again later."), {}
    finally:
        request_finished.send(sender=__name__)


def _answer(*, body: bytes, timestamp: str | None, signature_header: str | None) -> Answer:
    for attempt in (1, 2):
        try:
            result = services.oms_webhook_receive(
                body=body, timestamp=timestamp, signature_header=signature_header
            )
            break
        except signature.SignatureError as exc:
            return 401, error_body("invalid_signature", str(exc)), {}
        except services.PayloadTooLarge as exc:
            return 413, error_body("payload_too_large", str(exc)), {}
        except schema.OmsPayloadError as exc:
            details = {"field": exc.field} if exc.field else None
            return 400, error_body(exc.code, exc.message, details), {}
        except DataError:
            # Defence in depth: the schema refuses what PostgreSQL would (NUL, lone surrogates,
            # numbers and times out of range); should a case slip through, it is still the
            # sender's data at fault, never a 500.
            logger.warning("PostgreSQL refused an OMS event the schema accepted", exc_info=True)
            return 400, error_body("invalid_event", "The event holds values that cannot be stored."), {}
        except (InterfaceError, OperationalError) as exc:  # the connection, most likely
            connection.close()
            if attempt == 1:
                logger.warning("Database connection lost (%s); storing the delivery again", exc)
                continue
            logger.exception("Could not store an OMS event")
            return _UNAVAILABLE
        except DatabaseError:
            connection.close()
            logger.exception("Could not store an OMS event")
            return _UNAVAILABLE
    if result.duplicate:
        return 200, {"status": "duplicate", "event_id": result.event_id}, {}
    return 202, {"status": "accepted", "event_id": result.event_id}, {}


_UNAVAILABLE: Answer = (
    503, error_body("unavailable", "The event could not be stored; send it again later."),
    {"Retry-After": "5"},
)


async def _body(receive: Any, *, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it grows past `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send: Any, answer: Answer) -> None:
    status, payload, headers = answer
    content = json.dumps(payload).encode()
    await send({
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(content)).encode()),
                    *((name.lower().encode(), value.encode()) for name, value in headers.items())],
    })
    await send({"type": "http.response.body", "body": content})
