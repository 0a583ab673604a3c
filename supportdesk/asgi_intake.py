"""Bare ASGI endpoints for signed machine-to-machine webhooks, in front of Django's request machinery.

A provider may post thousands of events a second. Through Django's ASGI handler every request
would cross into the single sync thread once per middleware (sessions, CSRF, auth, messages: none
of which a signed call needs); an endpoint made here crosses once, into a worker thread of the
event loop, to verify, validate and store, and the rest stays on the loop. Channels'
AsyncHttpConsumer is not used because it opens a channel-layer channel in Redis for every
request.

What every such endpoint does alike lives here: the body read up to a limit (413 past it), the
methods it takes (405 for the others, with Allow), the answer run in a thread between Django's
request signals (so the thread's database connection is looked after as a view's is), a
database connection lost since the last request replaced and the answer tried once more, 503
when the database cannot take it, a bug logged and answered in the error shape rather than as
the server's bare 500. The endpoint's module (a provider's, in `integrations/`) only turns the
request into one service call and the outcome into an `Answer`; `supportdesk.asgi` routes the
path to it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl

from asgiref.sync import sync_to_async
from django.core.signals import request_finished, request_started
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.utils.translation import gettext as _

from supportdesk import metrics
from supportdesk.errors import error_body
from supportdesk.logs import log_id_reset, log_id_set, request_id_for
from supportdesk.unavailable import retry_after_seconds, unavailable_body

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Request:
    method: str
    headers: Mapping[str, str]  # names in lower case
    query: Mapping[str, str]  # the last value of each parameter, as Django's QueryDict.get gives
    body: bytes


@dataclass(frozen=True)
class Answer:
    status: int
    content: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Answer:
        return cls(status=status, content=json.dumps(payload).encode(), headers=dict(headers or {}))

    @classmethod
    def error(cls, status: int, code: str, message: str, details: Any = None,
              headers: Mapping[str, str] | None = None) -> Answer:
        return cls.json(status, error_body(code, message, details), headers)

    @classmethod
    def text(cls, status: int, text: str) -> Answer:
        return cls(status=status, content=text.encode(), content_type="text/plain; charset=utf-8")


Handler = Callable[[Request], Answer]


def unavailable() -> Answer:
    """The desk's one answer for a database it cannot reach (supportdesk.unavailable)."""
    return Answer.json(503, unavailable_body(), {"Retry-After": str(retry_after_seconds())})


def intake_endpoint(*, name: str, key: str, max_body_bytes: Callable[[], int], post: Handler,
                    get: Handler | None = None) -> AsgiApp:
    """An ASGI app serving one path: POST through `post`, run in a worker thread (see
    `answer_between_signals`); GET, if given, through `get` on the event loop, so it must not
    touch the database (a subscription check); any other method 405. `name` names the endpoint
    in the log, `key` in /metrics (`webhook_posts_total{webhook, status}`); the body limit is
    read per request (a setting tests may change). Like Django's pages, every answer carries
    the request's id (supportdesk.logs) and is timed for /metrics."""
    allowed = ", ".join(["GET", "POST"] if get is not None else ["POST"])

    async def answer_for(scope: Scope, receive: Receive) -> Answer:
        method = scope["method"]
        if method == "GET" and get is not None:
            return get(request_of(scope, body=b""))
        if method != "POST":
            takes = _("This address takes %(methods)s.") % {"methods": allowed}
            return Answer.error(405, "method_not_allowed", takes, headers={"Allow": allowed})
        limit = max_body_bytes()
        body = await body_read(receive, limit=limit)
        if body is None:
            too_large = _("The body is over the limit of %(limit)s bytes.") % {"limit": limit}
            return Answer.error(413, "payload_too_large", too_large)
        # One of the loop's worker threads, not Django's one sync thread: deliveries are
        # independent of each other. The thread gets this context, so the request's id.
        return await sync_to_async(answer_between_signals, thread_sensitive=False)(
            post, request_of(scope, body=body), name=name)

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"{name} serves HTTP, not {scope['type']}.")
        began = time.monotonic()
        sent_id = next((value.decode("latin-1") for header, value in scope.get("headers", [])
                        if header.lower() == b"x-request-id"), None)
        request_id = request_id_for(sent_id)
        token = log_id_set(request_id)
        try:
            answer = await answer_for(scope, receive)
        finally:
            log_id_reset(token)
        await respond(send, replace(answer, headers={**answer.headers, "X-Request-ID": request_id}))
        metrics.observe("http_request_duration_seconds", time.monotonic() - began,
                        {"status": f"{answer.status // 100}xx"})
        if scope["method"] == "POST":
            metrics.count("webhook_posts_total", {"webhook": key, "status": str(answer.status)})

    return endpoint


def answer_between_signals(handler: Handler, request: Request, *, name: str) -> Answer:
    """Run the handler between Django's request signals, as Django's own handler sends them, so
    the thread's database connection goes back (or is closed) afterwards; a bug is logged and
    answered 500 in the error shape, not left to the ASGI server's bare 500 (the fuzz tests keep
    this path unused)."""
    request_started.send(sender=__name__)
    try:
        return _with_one_retry(handler, request, name=name)
    except Exception:
        logger.exception("%s failed on a delivery", name)
        return Answer.error(500, "internal_error",
                            _("Not handled: something failed on the desk's side; send it again later."))
    finally:
        request_finished.send(sender=__name__)


def _with_one_retry(handler: Handler, request: Request, *, name: str) -> Answer:
    """A pooled connection that broke since the last request (a database restart) is replaced
    and the handler tried once more, which is safe because the handlers store idempotently (on
    the event's id, the body's hash); a database that still fails answers 503."""
    try:
        return handler(request)
    except (InterfaceError, OperationalError) as exc:  # the connection, most likely
        connection.close()
        logger.warning("%s: database connection lost (%s); handling the delivery again", name, exc)
    except DatabaseError:
        connection.close()
        logger.exception("%s: could not store a delivery", name)
        return unavailable()
    try:
        return handler(request)
    except DatabaseError:
        connection.close()
        logger.exception("%s: could not store a delivery", name)
        return unavailable()


def request_of(scope: Scope, *, body: bytes) -> Request:
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", [])}
    query: dict[str, str] = {}
    for key, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True):
        query[key] = value
    return Request(method=scope["method"], headers=headers, query=query, body=body)


async def body_read(receive: Receive, *, limit: int) -> bytes | None:
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


async def respond(send: Send, answer: Answer) -> None:
    await send({
        "type": "http.response.start", "status": answer.status,
        "headers": [(b"content-type", answer.content_type.encode()),
                    (b"content-length", str(len(answer.content)).encode()),
                    *((name.lower().encode("latin-1"), value.encode("latin-1"))
                      for name, value in answer.headers.items())],
    })
    await send({"type": "http.response.body", "body": answer.content})
