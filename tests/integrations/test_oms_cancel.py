"""The OMS's cancel: over HTTP against the fake OMS server, and the in-memory fake; both idempotent
on the key and refusing (409, with a code) once the order is out for delivery."""

from __future__ import annotations

import json

import pytest

from integrations.oms.client import FakeOmsClient, HttpOmsClient, OmsPermanentError


@pytest.fixture
def http_client(fake_oms) -> HttpOmsClient:
    return HttpOmsClient(base_url=f"{fake_oms.url}/api", token="", timeout=5)


def test_a_cancel_is_posted_once_per_key(http_client, fake_oms):
    first = http_client.cancel_order(order_external_id="O 1/2", reason="customer", idempotency_key="k-1")
    again = http_client.cancel_order(order_external_id="O 1/2", reason="customer", idempotency_key="k-1")

    assert (first.status, first.order_external_id) == ("cancelled", "O 1/2")
    assert first.cancelled_at is not None and again.cancelled_at == first.cancelled_at
    [call] = fake_oms.calls()
    assert (call["kind"], call["subject"], call["replays"]) == ("cancel", "O 1/2", 1)


@pytest.mark.parametrize(("status", "code"), [("in_delivery", "in_delivery"), ("delivered", "delivered"),
                                              ("cancelled", "already_cancelled")])
def test_the_oms_refuses_once_the_order_is_out_for_delivery(http_client, fake_oms, status, code):
    fake_oms.state.order_status_set("O-9", status)

    with pytest.raises(OmsPermanentError) as refused:
        http_client.cancel_order(order_external_id="O-9", reason="customer", idempotency_key=f"k-{status}")

    assert (refused.value.code, refused.value.status) == (code, 409)


def test_the_in_memory_fake_answers_alike():
    fake = FakeOmsClient()
    fake.order_status_set("O-2", "picked_up")  # before in-delivery: still cancellable
    fake.order_status_set("O-3", "in_delivery")

    first = fake.cancel_order(order_external_id="O-2", reason="customer", idempotency_key="k")
    again = fake.cancel_order(order_external_id="O-2", reason="customer", idempotency_key="k")
    with pytest.raises(OmsPermanentError) as refused:
        fake.cancel_order(order_external_id="O-3", reason="customer", idempotency_key="k-3")

    assert (first.status, first.replayed, again.replayed, again.cancelled_at) == (
        "cancelled", False, True, first.cancelled_at)
    assert refused.value.code == "in_delivery"


@pytest.mark.parametrize("body", ["[]", "null", '"ok"'])
def test_an_answer_that_is_not_an_object_is_no_answer(body):
    from unittest import mock

    from integrations.oms.client import OmsTransientError

    session = mock.Mock()
    answer = json.loads(body)
    session.post.return_value = mock.Mock(status_code=200, text=body, json=mock.Mock(return_value=answer))
    client = HttpOmsClient(base_url="http://oms.invalid", token="", timeout=1, session=session)

    with pytest.raises(OmsTransientError):
        client.cancel_order(order_external_id="O-1", reason="customer", idempotency_key="k")
