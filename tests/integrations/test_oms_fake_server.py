"""The fake OMS is a real HTTP server that the real HTTP client talks to."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from integrations.oms.client import HttpOmsClient, OmsPermanentError, get_oms_client
from integrations.oms.fake_server import FakeOmsServer, fake_oms_calls


def test_a_rebate_through_the_http_client_is_received_once_per_key(fake_oms):
    client = get_oms_client()
    assert isinstance(client, HttpOmsClient)

    first = client.issue_rebate(order_external_id="ORD-1", amount=Decimal("5.00"), currency="EUR",
                                reason="late order", idempotency_key="wf:1:ORD-1")
    again = client.issue_rebate(order_external_id="ORD-1", amount=Decimal("5.00"), currency="EUR",
                                reason="late order", idempotency_key="wf:1:ORD-1")
    other = client.issue_rebate(order_external_id="ORD-2", amount=Decimal("5.00"), currency="EUR",
                                reason="late order", idempotency_key="wf:1:ORD-2")

    assert first.reference == again.reference != other.reference
    calls = fake_oms.calls()
    assert [(call["kind"], call["subject"], call["amount"], call["replays"]) for call in calls] == [
        ("rebate", "ORD-1", "5.00", 1), ("rebate", "ORD-2", "5.00", 0)]


def test_a_coupon_and_the_calls_listing_over_http(fake_oms):
    coupon = get_oms_client().issue_coupon(customer_external_id="C 7", amount=Decimal("10"), currency="EUR",
                                           reason="sorry", idempotency_key="c7")

    calls = fake_oms_calls(base_url=f"{fake_oms.url}/api")
    assert calls is not None and len(calls) == 1
    assert calls[0]["answer"]["code"] == coupon.code and calls[0]["subject"] == "C 7"


def test_the_same_key_for_another_request_is_refused(fake_oms):
    client = get_oms_client()
    client.issue_rebate(order_external_id="ORD-1", amount=Decimal("5"), currency="EUR", reason="r",
                        idempotency_key="k")
    with pytest.raises(OmsPermanentError):
        client.issue_rebate(order_external_id="ORD-1", amount=Decimal("50"), currency="EUR", reason="r",
                            idempotency_key="k")
    assert len(fake_oms.calls()) == 1


@pytest.mark.parametrize("headers, body, status", [
    ({}, {"amount": "5", "currency": "EUR"}, 400),  # no Idempotency-Key
    ({"Idempotency-Key": "a"}, {"amount": "-5", "currency": "EUR"}, 422),
    ({"Idempotency-Key": "b"}, {"amount": "five", "currency": "EUR"}, 422),
    ({"Idempotency-Key": "c"}, {"amount": "5", "currency": "euro"}, 422),
    ({"Idempotency-Key": "d"}, ["not", "an", "object"], 400),
])
def test_bad_requests_get_a_clear_4xx_and_are_not_counted(fake_oms, headers, body, status):
    response = requests.post(f"{fake_oms.url}/api/orders/ORD-1/rebates", json=body, headers=headers, timeout=5)

    assert response.status_code == status and "error" in response.json()
    assert fake_oms.calls() == []


def test_a_token_is_required_when_one_is_set():
    server = FakeOmsServer(port=0, token="s3cret")
    server.start()
    try:
        refused = requests.get(f"{server.url}/calls", timeout=5)
        allowed = requests.get(f"{server.url}/calls", timeout=5, headers={"Authorization": "Bearer s3cret"})
    finally:
        server.stop()
    assert (refused.status_code, allowed.status_code) == (401, 200)


def test_no_fake_oms_answering_is_none():
    assert fake_oms_calls(base_url="http://127.0.0.1:9/api", timeout=1) is None
