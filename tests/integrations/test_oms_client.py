"""The OMS client: the HTTP implementation against a real local HTTP server, and the fake."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from integrations.oms.client import (
    FakeOmsClient,
    HttpOmsClient,
    OmsPermanentError,
    OmsTransientError,
    get_oms_client,
)
from tests.bench.harness import free_port


class FakeOms:
    """A tiny OMS: records each request and answers what the test scripted for its path."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.answers: dict[str, tuple[int, bytes, float]] = {}

    def handler(self) -> type[BaseHTTPRequestHandler]:
        oms = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server API)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                oms.requests.append({"path": self.path, "headers": dict(self.headers),
                                     "json": json.loads(body)})
                status, answer, delay = oms.answers.get(self.path, (201, b'{"id": "rb_1"}', 0))
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the timeout test)

            def log_message(self, *args) -> None:
                pass

        return Handler


@pytest.fixture
def oms() -> Iterator[tuple[FakeOms, str]]:
    fake = FakeOms()
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}/api/"
    finally:
        server.shutdown()
        server.server_close()


def client(url: str, timeout: float = 5.0) -> HttpOmsClient:
    return HttpOmsClient(base_url=url, token="secret-token", timeout=timeout)


def test_a_rebate_is_posted_with_token_and_idempotency_key(oms):
    fake, url = oms

    rebate = client(url).issue_rebate(order_external_id="O1", amount=Decimal("4.50"),
                                      currency="EUR", reason="late", idempotency_key="k-1")

    assert (rebate.reference, rebate.order_external_id, rebate.amount) == (
        "rb_1", "O1", Decimal("4.50"))
    [request] = fake.requests
    assert request["path"] == "/api/orders/O1/rebates"
    assert request["json"] == {"amount": "4.50", "currency": "EUR", "reason": "late"}
    assert request["headers"]["Authorization"] == "Bearer secret-token"
    assert request["headers"]["Idempotency-Key"] == "k-1"


def test_a_coupon_is_posted_for_the_customer(oms):
    fake, url = oms
    fake.answers["/api/customers/C1/coupons"] = (201, b'{"code": "SORRY-1"}', 0)

    coupon = client(url).issue_coupon(customer_external_id="C1", amount=Decimal("10"),
                                      currency="EUR", reason="sorry", idempotency_key="k-2")

    assert coupon.code == "SORRY-1"
    assert fake.requests[0]["headers"]["Idempotency-Key"] == "k-2"


@pytest.mark.parametrize(("status", "body", "error"), [
    (500, b'{"error": "boom"}', OmsTransientError),
    (503, b"", OmsTransientError),
    (429, b"{}", OmsTransientError),
    (201, b"<html>not json</html>", OmsTransientError),
    (404, b'{"error": "no such order"}', OmsPermanentError),
    (422, b'{"error": "amount too high"}', OmsPermanentError),
])
def test_answers_are_sorted_into_transient_and_permanent_errors(oms, status, body, error):
    fake, url = oms
    fake.answers["/api/orders/O1/rebates"] = (status, body, 0)

    with pytest.raises(error):
        client(url).issue_rebate(order_external_id="O1", amount=Decimal("1"), currency="EUR",
                                 reason="late", idempotency_key="k")


def test_a_slow_oms_is_a_transient_error(oms):
    fake, url = oms
    fake.answers["/api/orders/O1/rebates"] = (201, b"{}", 1.0)

    with pytest.raises(OmsTransientError, match="unreachable"):
        client(url, timeout=0.2).issue_rebate(order_external_id="O1", amount=Decimal("1"),
                                              currency="EUR", reason="late", idempotency_key="k")


def test_an_unreachable_oms_is_a_transient_error():
    with pytest.raises(OmsTransientError, match="unreachable"):
        client(f"http://127.0.0.1:{free_port()}/api").issue_coupon(
            customer_external_id="C1", amount=Decimal("1"), currency="EUR", reason="x",
            idempotency_key="k")


def test_the_fake_answers_a_repeated_key_with_the_same_result_and_refuses_nonsense():
    fake = FakeOmsClient()
    first = fake.issue_rebate(order_external_id="O1", amount=Decimal("2"), currency="EUR",
                              reason="late", idempotency_key="same")
    again = fake.issue_rebate(order_external_id="O1", amount=Decimal("2"), currency="EUR",
                              reason="late", idempotency_key="same")

    assert first == again
    assert len(fake.rebates) == 1
    with pytest.raises(OmsPermanentError):
        fake.issue_coupon(customer_external_id="C1", amount=Decimal("0"), currency="EUR",
                          reason="x", idempotency_key="other")


def test_the_settings_choose_the_implementation(settings):
    settings.OMS_CLIENT = "fake"
    assert isinstance(get_oms_client(), FakeOmsClient)

    settings.OMS_CLIENT = "http"
    settings.OMS_API_URL = "http://oms.example/api/"
    http = get_oms_client()
    assert isinstance(http, HttpOmsClient)
    assert http.base_url == "http://oms.example/api"
