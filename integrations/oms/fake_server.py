"""A fake OMS as a real local HTTP server: the three calls HttpOmsClient makes, nothing more.

- `POST …/orders/<id>/rebates` and `POST …/customers/<id>/coupons` with a JSON body
  `{"amount": "5.00", "currency": "EUR", "reason": "..."}` and an `Idempotency-Key` header
  (required): 201 with the rebate (`id`) or coupon (`code`). The same key again gets the same
  answer (with `Idempotent-Replayed: true`) and is counted once; the same key with another
  request is refused (409), as real payment APIs do.
- `POST …/orders/<id>/cancel` with `{"reason": "..."}` and an `Idempotency-Key`: 200 with
  `{"order_id", "status": "cancelled", "cancelled_at"}` while the order is before delivery; 409
  with `{"code": "in_delivery" | "delivered" | "already_cancelled", "error": ...}` after. The
  fake knows an order's status only when told (`FakeOmsState.order_status_set`, as a test
  does); one it was not told about counts as just created. A refusal is not kept under its key.
- `GET …/calls`: every call received, oldest first, each with how often it was replayed.

Whatever comes before `/orders`, `/customers` or `/calls` is ignored, so OMS_API_URL may carry
a prefix (the default `http://localhost:9000/api`). `manage.py fake_oms` serves it for
`make run`; the tests run it on a thread (tests/conftest.py `fake_oms`). State lives in memory.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

import requests

from integrations.local_server import LocalHttpServer
from timeline.models import order_cancel_refusal

ROUTES = [
    ("rebate", re.compile(r"/orders/(?P<subject>[^/]+)/rebates/?$")),
    ("coupon", re.compile(r"/customers/(?P<subject>[^/]+)/coupons/?$")),
    ("cancel", re.compile(r"/orders/(?P<subject>[^/]+)/cancel/?$")),
]
CALLS = re.compile(r"/calls/?$")
BODY_MAX_BYTES = 64 * 1024


class FakeOmsState:
    """The calls received, keyed by idempotency key (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, dict[str, Any]] = {}
        self._order_statuses: dict[str, str] = {}

    def order_status_set(self, order_id: str, status: str) -> None:
        """What the fake takes an order's status to be (a real OMS knows its orders)."""
        with self._lock:
            self._order_statuses[order_id] = status

    def _replay(self, idempotency_key: str, request: dict[str, Any]) -> tuple[int, dict[str, Any], bool] | None:
        known = self._calls.get(idempotency_key)
        if known is None:
            return None
        if known["request"] != request:
            return 409, {"error": "this Idempotency-Key was used for another request"}, False
        known["replays"] += 1
        return known["status"], known["answer"], True

    def _keep(self, idempotency_key: str, request: dict[str, Any], status: int, answer: dict[str, Any]) -> None:
        self._calls[idempotency_key] = {
            "request": request, "answer": answer, "status": status, "idempotency_key": idempotency_key,
            "received_at": datetime.now(UTC).isoformat(), "replays": 0,
        }

    def cancel(self, *, subject: str, payload: dict[str, Any],
               idempotency_key: str) -> tuple[int, dict[str, Any], bool]:
        """(status, answer, replayed) for one cancellation."""
        request = {"kind": "cancel", "subject": subject, "reason": str(payload.get("reason") or "")}
        with self._lock:
            replayed = self._replay(idempotency_key, request)
            if replayed is not None:
                return replayed
            refusal = order_cancel_refusal(self._order_statuses.get(subject, "created"))
            if refusal is not None:
                return 409, {"code": refusal, "error": f"order {subject} cannot be cancelled: {refusal}"}, False
            self._order_statuses[subject] = "cancelled"
            answer = {"order_id": subject, "status": "cancelled", "cancelled_at": datetime.now(UTC).isoformat()}
            self._keep(idempotency_key, request, 200, answer)
            return 200, answer, False

    def call(self, *, kind: str, subject: str, payload: dict[str, Any],
             idempotency_key: str) -> tuple[int, dict[str, Any], bool]:
        """(status, answer, replayed) for one rebate, coupon or cancellation request."""
        if kind == "cancel":
            return self.cancel(subject=subject, payload=payload, idempotency_key=idempotency_key)
        try:
            amount = Decimal(str(payload.get("amount")))
        except (InvalidOperation, ValueError):
            return 422, {"error": "amount must be a decimal number"}, False
        if not amount.is_finite() or amount <= 0:
            return 422, {"error": "amount must be positive"}, False
        currency = str(payload.get("currency") or "")
        if not re.fullmatch(r"[A-Z]{3}", currency):
            return 422, {"error": "currency must be an ISO 4217 code"}, False
        request = {"kind": kind, "subject": subject, "amount": str(amount), "currency": currency,
                   "reason": str(payload.get("reason") or "")}
        with self._lock:
            replayed = self._replay(idempotency_key, request)
            if replayed is not None:
                return replayed
            if kind == "rebate":
                answer = {"id": f"rb_{uuid.uuid4().hex[:12]}", "order_id": subject}
            else:
                answer = {"code": f"SORRY-{uuid.uuid4().hex[:8].upper()}", "customer_id": subject}
            answer.update(amount=str(amount), currency=currency)
            self._keep(idempotency_key, request, 201, answer)
            return 201, answer, False

    def calls(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{**call["request"], "idempotency_key": call["idempotency_key"],
                     "answer": dict(call["answer"]), "received_at": call["received_at"],
                     "replays": call["replays"]} for call in self._calls.values()]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
        if self.server.verbose:
            super().log_message(format, *args)

    def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        token = self.server.token
        return not token or self.headers.get("Authorization", "") == f"Bearer {token}"

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        if not self._authorised():
            return self._answer(401, {"error": "bad or missing bearer token"})
        if CALLS.search(urlsplit(self.path).path):
            return self._answer(200, {"calls": self.server.state.calls()})
        return self._answer(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        if length > BODY_MAX_BYTES:
            self.close_connection = True
            return self._answer(413, {"error": "body too large"})
        raw = self.rfile.read(length) if length > 0 else b""
        if not self._authorised():
            return self._answer(401, {"error": "bad or missing bearer token"})
        route = next(((kind, match) for kind, pattern in ROUTES if (match := pattern.search(path))), None)
        if route is None:
            return self._answer(404, {"error": "not found"})
        kind, match = route
        key = self.headers.get("Idempotency-Key", "").strip()
        if not key:
            return self._answer(400, {"error": "an Idempotency-Key header is required"})
        try:
            payload = json.loads(raw or b"null")
        except ValueError:
            return self._answer(400, {"error": "the body is not JSON"})
        if not isinstance(payload, dict):
            return self._answer(400, {"error": "the body must be a JSON object"})
        status, answer, replayed = self.server.state.call(
            kind=kind, subject=unquote(match["subject"]), payload=payload, idempotency_key=key)
        return self._answer(status, answer, {"Idempotent-Replayed": "true"} if replayed else None)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], *, state: FakeOmsState, token: str, verbose: bool) -> None:
        super().__init__(address, _Handler)
        self.state, self.token, self.verbose = state, token, verbose


class FakeOmsServer(LocalHttpServer):
    """The fake OMS on host:port; `start()` serves it on a thread, `serve_forever()` in this one."""

    thread_name = "fake-oms"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 9000, token: str = "",
                 verbose: bool = False) -> None:
        self.state = FakeOmsState()
        self._server = _Server((host, port), state=self.state, token=token, verbose=verbose)

    def calls(self) -> list[dict[str, Any]]:
        return self.state.calls()


def fake_oms_calls(*, base_url: str, token: str = "", timeout: float = 2.0) -> list[dict[str, Any]] | None:
    """The calls a fake OMS at base_url received, or None where none answers (a real OMS, or
    the fake one not running)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = requests.get(f"{base_url.rstrip('/')}/calls", timeout=timeout, headers=headers)
        calls = response.json().get("calls") if response.status_code == 200 else None
    except (requests.RequestException, ValueError, AttributeError):
        return None
    return calls if isinstance(calls, list) else None
