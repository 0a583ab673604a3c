"""A fake WhatsApp Cloud API as a real local HTTP server, for the demo and the tests.

- `POST /<phone number id>/messages` (Bearer token when one is set): a text or template
  message as the Cloud API takes it; answers `{"messages": [{"id": "wamid..."}]}`. The same
  `Idempotency-Key` again gets the same id and sends nothing more. Then, as the real one
  does, it posts the status reports "sent" and "delivered" (and "read" a moment later) to the
  desk's webhook, signed with the app secret. A number starting with 999 fails as the real
  API fails an unreachable one (a "failed" report with error 131026).
- `POST /simulate/inbound` `{"from": "34600111222", "name": "Lucía", "text": "..."}` (or
  `"location": {...}`, `"image": {"caption": ...}`): the fake posts it to the desk's webhook
  as a customer's message, signed.
- `GET /messages`: what it was asked to send, oldest first.

`manage.py fake_whatsapp` serves it for `make run`; tests run it on a thread.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from integrations.local_server import LocalHttpServer

SEND = re.compile(r"^/[^/]+/messages/?$")
BODY_MAX_BYTES = 64 * 1024


def signed_post(url: str, payload: dict[str, Any], *, secret: str, timeout: float = 5.0) -> int | None:
    """POST a webhook payload as Meta does (X-Hub-Signature-256); the status, or None if unreachable."""
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    try:
        return requests.post(url, data=body, timeout=timeout, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": signature}).status_code
    except requests.RequestException:
        return None


def envelope(value: dict[str, Any], *, phone_number_id: str = "100000000000001") -> dict[str, Any]:
    return {"object": "whatsapp_business_account", "entry": [{"id": "fake-waba", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp",
                                       "metadata": {"phone_number_id": phone_number_id}, **value}}]}]}


def inbound_payload(*, sender: str, name: str = "", text: str = "", location: dict | None = None,
                    image: dict | None = None, wamid: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"from": sender, "id": wamid or f"wamid.in.{uuid.uuid4().hex}",
                               "timestamp": str(int(time.time()))}
    if location is not None:
        message.update(type="location", location=location)
    elif image is not None:
        message.update(type="image", image={"id": uuid.uuid4().hex, "mime_type": "image/jpeg", **image})
    else:
        message.update(type="text", text={"body": text})
    return envelope({"contacts": [{"profile": {"name": name}, "wa_id": sender}], "messages": [message]})


def status_payload(*, wamid: str, recipient: str, status: str, error: dict | None = None) -> dict[str, Any]:
    report: dict[str, Any] = {"id": wamid, "status": status, "timestamp": str(int(time.time())),
                              "recipient_id": recipient}
    if error:
        report["errors"] = [error]
    return envelope({"statuses": [report]})


class FakeWhatsAppState:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, str] = {}
        self.sent: list[dict[str, Any]] = []

    def send(self, payload: dict[str, Any], key: str) -> tuple[str, bool]:
        with self._lock:
            if key and key in self._by_key:
                return self._by_key[key], True
            wamid = f"wamid.fake.{uuid.uuid4().hex}"
            if key:
                self._by_key[key] = wamid
            self.sent.append({"id": wamid, **payload})
            return wamid, False


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
        if self.server.verbose:
            super().log_message(format, *args)

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _json(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= BODY_MAX_BYTES:
            return None
        try:
            payload = json.loads(self.rfile.read(length))
        except ValueError:
            return None
        return payload if isinstance(payload, dict) else None

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        if self.path.rstrip("/") == "/messages":
            self._answer(200, {"messages": self.server.state.sent})
        else:
            self._answer(404, {"error": {"message": "Unknown path", "code": 100}})

    def do_POST(self) -> None:  # noqa: N802
        payload = self._json()
        if payload is None:
            self._answer(400, {"error": {"message": "The body must be a JSON object", "code": 100}})
        elif self.path.rstrip("/") == "/simulate/inbound":
            self._simulate(payload)
        elif SEND.match(self.path):
            self._send(payload)
        else:
            self._answer(404, {"error": {"message": "Unknown path", "code": 100}})

    def _simulate(self, payload: dict[str, Any]) -> None:
        sender = str(payload.get("from") or "")
        if not sender.isdigit():
            self._answer(400, {"error": {"message": "from: the sender's number, digits only", "code": 100}})
            return
        status = signed_post(self.server.webhook_url, inbound_payload(
            sender=sender, name=str(payload.get("name") or ""), text=str(payload.get("text") or ""),
            location=payload.get("location"), image=payload.get("image")), secret=self.server.app_secret)
        self._answer(200 if status == 200 else 502, {"desk_answered": status})

    def _send(self, payload: dict[str, Any]) -> None:
        token = self.server.token
        if token and self.headers.get("Authorization") != f"Bearer {token}":
            self._answer(401, {"error": {"message": "Invalid OAuth access token", "code": 190}})
            return
        to, kind = str(payload.get("to") or ""), payload.get("type")
        if payload.get("messaging_product") != "whatsapp" or not to.isdigit() or kind not in ("text", "template"):
            self._answer(400, {"error": {"message": "(#100) Invalid parameter", "code": 100}})
            return
        wamid, replayed = self.server.state.send(payload, self.headers.get("Idempotency-Key") or "")
        self._answer(200, {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
                           "messages": [{"id": wamid}]})
        if not replayed:
            threading.Thread(target=self.server.report, args=(wamid, to), daemon=True).start()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], *, state: FakeWhatsAppState, token: str, app_secret: str,
                 webhook_url: str, verbose: bool, report_delay: float) -> None:
        super().__init__(address, _Handler)
        self.state, self.token, self.app_secret = state, token, app_secret
        self.webhook_url, self.verbose, self.report_delay = webhook_url, verbose, report_delay

    def report(self, wamid: str, to: str) -> None:
        """The status reports a real provider posts after a send."""
        time.sleep(self.report_delay)
        if to.startswith("999"):
            reports = [("failed", {"code": 131026, "title": "Message undeliverable"})]
        else:
            reports = [("sent", None), ("delivered", None), ("read", None)]
        for status, error in reports:
            signed_post(self.webhook_url, status_payload(wamid=wamid, recipient=to, status=status, error=error),
                        secret=self.app_secret)
            time.sleep(self.report_delay)


class FakeWhatsAppServer(LocalHttpServer):
    """The fake provider on host:port; `start()` serves it on a thread, `serve_forever()` in this one."""

    thread_name = "fake-whatsapp"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 9100, token: str = "", app_secret: str = "",
                 webhook_url: str = "", verbose: bool = False, report_delay: float = 0.5) -> None:
        self.state = FakeWhatsAppState()
        self._server = _Server((host, port), state=self.state, token=token, app_secret=app_secret,
                               webhook_url=webhook_url, verbose=verbose, report_delay=report_delay)
