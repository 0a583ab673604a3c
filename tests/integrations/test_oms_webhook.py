"""The OMS webhook: signature, freshness, replay, duplicates, bad bodies; never a 500."""

from __future__ import annotations

import json
import time
from unittest import mock

import pytest
from django.db import OperationalError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations import services
from integrations.models import OmsEvent, OmsEventStatus
from integrations.oms.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, signed_headers
from tests import oms_events
from tests.asgi_client import AsgiClient
from tests.oms_events import WEBHOOK_URL, dumps

SECRET = "dev-oms-webhook-secret"
# The webhook stores events from a thread of its own, in its own transaction, as it does
# when served: the test sees only what it committed.
pytestmark = pytest.mark.django_db(transaction=True)


def post(oms_client: AsgiClient, body: bytes, *, secret: str = SECRET, timestamp: int | None = None):
    return oms_client.post(
        WEBHOOK_URL, data=body, content_type="application/json",
        headers=signed_headers(secret=secret, body=body, timestamp=timestamp),
    )


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.OMS_WEBHOOK_SECRET = SECRET


def test_a_signed_event_is_stored_pending_and_a_drain_is_requested(oms_client):
    body = dumps(oms_events.order_created("O1"))

    with mock.patch("integrations.services.oms_drain_request") as drain_request:
        response = post(oms_client, body)

    assert response.status_code == 202
    assert response.json()["status"] == "accepted"
    stored = OmsEvent.objects.get()
    assert stored.status == OmsEventStatus.PENDING
    assert stored.event_type == "order.created"
    assert stored.payload == json.loads(body)
    drain_request.assert_called_once_with()


def test_a_wrong_signature_is_refused_with_401(oms_client):
    body = dumps(oms_events.order_created())

    response = post(oms_client, body, secret="not-the-secret")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    assert not OmsEvent.objects.exists()


def test_missing_signature_headers_are_refused(oms_client):
    response = oms_client.post(WEBHOOK_URL, data=dumps(oms_events.order_created()),
                           content_type="application/json")

    assert response.status_code == 401
    assert "Missing" in response.json()["error"]["message"]


def test_a_body_changed_after_signing_is_refused(oms_client):
    body = dumps(oms_events.order_created(total="30.00"))
    headers = signed_headers(secret=SECRET, body=body)
    tampered = body.replace(b'"30.00"', b'"0.01"')

    response = oms_client.post(WEBHOOK_URL, data=tampered, content_type="application/json",
                           headers=headers)

    assert response.status_code == 401


@pytest.mark.parametrize("skew_seconds", [-301, 301, -3600])
def test_a_stale_or_future_timestamp_is_refused(oms_client, skew_seconds):
    body = dumps(oms_events.order_created())

    response = post(oms_client, body, timestamp=int(time.time()) + skew_seconds)

    assert response.status_code == 401
    assert "300 seconds" in response.json()["error"]["message"]


def test_a_timestamp_within_tolerance_is_accepted(oms_client):
    response = post(oms_client, dumps(oms_events.order_created()), timestamp=int(time.time()) - 290)

    assert response.status_code == 202


def test_a_captured_request_replayed_later_is_refused(oms_client):
    body = dumps(oms_events.order_created())
    captured = signed_headers(secret=SECRET, body=body, timestamp=int(time.time()) - 600)

    response = oms_client.post(WEBHOOK_URL, data=body, content_type="application/json",
                           headers=captured)

    assert response.status_code == 401


def test_a_duplicate_delivery_gets_200_and_changes_nothing(oms_client):
    body = dumps(oms_events.order_created("O1"))
    assert post(oms_client, body).status_code == 202
    OmsEvent.objects.update(status=OmsEventStatus.PROCESSED)

    response = post(oms_client, body)

    assert response.status_code == 200
    assert response.json() == {"status": "duplicate", "event_id": json.loads(body)["id"]}
    assert OmsEvent.objects.count() == 1
    assert OmsEvent.objects.get().status == OmsEventStatus.PROCESSED


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (b"{not json", "malformed_json", None),
        (b"\xff\xfe\x00", "malformed_json", None),
        (b"[1, 2]", "invalid_event", None),
        (dumps({"type": "order.created", "occurred_at": "2026-11-01T12:00:00Z", "data": {}}),
         "invalid_event", "id"),
        (dumps(oms_events.event("order.teleported", {})), "unknown_event_type", "type"),
        (dumps({**oms_events.order_created(), "occurred_at": "yesterday"}), "invalid_event",
         "occurred_at"),
        (dumps({**oms_events.order_created(), "occurred_at": "2026-11-01T12:00:00"}),
         "invalid_event", "occurred_at"),
        (dumps(oms_events.event("order.created", {"order": {"id": "O1"}})), "invalid_event",
         "data.order.customer"),
        (dumps(oms_events.order_created(total="lots")), "invalid_event", "data.order.total"),
        (dumps(oms_events.order_created(total="NaN")), "invalid_event", "data.order.total"),
        (dumps(oms_events.order_created(status="teleported")), "invalid_event",
         "data.order.status"),
        (dumps(oms_events.event("order.status_changed", {"order": {"id": "O1"}})),
         "invalid_event", "data.order.status"),
        (dumps(oms_events.event("order.delayed", {"order": {"id": "O1"}})), "invalid_event",
         "data.delay_minutes"),
        (dumps(oms_events.event("customer.updated", {"customer": {"id": "C1", "email": "no"}})),
         "invalid_event", "data.customer.email"),
        (dumps(oms_events.event("courier.updated", {"courier": {"id": "R1", "vehicle": "jet"}})),
         "invalid_event", "data.courier.vehicle"),
        (dumps(oms_events.event("partner.updated", {})), "invalid_event", "data.partner"),
        (dumps(oms_events.order_created()).decode().encode("utf-16"), "malformed_json", None),
        (b"\xef\xbb\xbf" + dumps(oms_events.order_created()), "malformed_json", None),
        (dumps(oms_events.event("customer.updated", {"customer": {"id": "C1", "name": "A\u0000B"}})),
         "invalid_event", None),
    ],
)
def test_bad_bodies_get_a_clear_400(oms_client, body, code, field):
    response = post(oms_client, body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    if field:
        assert error["details"]["field"] == field
    assert not OmsEvent.objects.exists()


def test_an_oversized_body_gets_413(oms_client, settings):
    settings.OMS_WEBHOOK_MAX_BODY_BYTES = 1024
    body = dumps(oms_events.order_created() | {"padding": "x" * 2000})

    response = post(oms_client, body)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_get_is_not_allowed(oms_client):
    response = oms_client.get(WEBHOOK_URL)

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_a_broker_outage_does_not_lose_or_refuse_the_event(oms_client, monkeypatch):
    body = dumps(oms_events.order_created("O1"))
    monkeypatch.setattr(services, "_drain_window_ends", 0.0)

    with mock.patch("integrations.services.get_redis", side_effect=ConnectionError("down")) as redis:
        response = post(oms_client, body)

    redis.assert_called_once_with()

    assert response.status_code == 202
    assert OmsEvent.objects.filter(status=OmsEventStatus.PENDING).count() == 1


def test_a_database_outage_gets_503_not_500(oms_client):
    with mock.patch("integrations.services._store", side_effect=OperationalError("db down")):
        response = post(oms_client, dumps(oms_events.order_created()))

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert response["Retry-After"] == "5"


def test_a_connection_lost_since_the_last_delivery_is_replaced_and_the_event_stored(oms_client):
    real_store = services._store
    calls = []

    def store_once_broken(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real_store(*args, **kwargs)

    with mock.patch("integrations.services._store", side_effect=store_once_broken):
        response = post(oms_client, dumps(oms_events.order_created("O1")))

    assert response.status_code == 202
    assert len(calls) == 2
    assert OmsEvent.objects.count() == 1


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
_envelope = st.fixed_dictionaries(
    {
        "id": st.text(min_size=1, max_size=30) | st.integers(),
        "type": st.sampled_from(["order.created", "order.delayed", "order.status_changed",
                                 "courier.updated", "customer.updated", "partner.updated"]),
        "occurred_at": st.sampled_from(["2026-11-01T12:00:00Z", "2026-11-01", "x"]) | _json,
        "data": st.fixed_dictionaries(
            {},
            optional={
                "order": st.fixed_dictionaries({"id": st.text(max_size=5) | _json}, optional={
                    "customer": _json | st.fixed_dictionaries({"id": st.text(max_size=5)}),
                    "status": st.sampled_from(["delivered", "bogus"]) | _json,
                    "total": _json, "placed_at": _json, "items": _json,
                }),
                "delay_minutes": _json,
                "customer": _json, "courier": _json, "partner": _json,
            },
        ) | _json,
    }
)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=st.binary(max_size=300) | _json.map(dumps) | _envelope.map(dumps))
def test_no_signed_input_ever_gets_a_500(oms_client, body):
    response = post(oms_client, body)

    assert response.status_code in {200, 202, 400}, response.content
    assert response["Content-Type"] == "application/json"


def test_signature_is_over_timestamp_and_body():
    assert sign(secret="s", timestamp=1, body=b"{}") != sign(secret="s", timestamp=2, body=b"{}")
    assert TIMESTAMP_HEADER in signed_headers(secret="s", body=b"{}")
    assert signed_headers(secret="s", body=b"{}", timestamp=5)[SIGNATURE_HEADER].startswith(
        "sha256="
    )


class TestDrainRequests:
    """Each delivery asks for a drain; Redis and the broker hear of only one per window."""

    @pytest.fixture(autouse=True)
    def _fresh_window(self, monkeypatch):
        monkeypatch.setattr(services, "_drain_window_ends", 0.0)
        services.get_redis().delete(services.drain_debounce_key())

    def test_deliveries_within_a_window_enqueue_one_drain_after_it(self):
        with mock.patch("integrations.tasks.oms_events_drain.apply_async") as enqueue:
            for _ in range(5):
                services.oms_drain_request()

        enqueue.assert_called_once_with(countdown=(services.DRAIN_DEBOUNCE_MS + 50) / 1000)

    def test_the_first_delivery_after_the_window_enqueues_the_next_drain(self, monkeypatch):
        with mock.patch("integrations.tasks.oms_events_drain.apply_async") as enqueue:
            services.oms_drain_request()
            services.oms_drain_request()  # inside the window
            # The window closes: in this process and in Redis.
            monkeypatch.setattr(services, "_drain_window_ends", 0.0)
            services.get_redis().delete(services.drain_debounce_key())
            services.oms_drain_request()

        assert enqueue.call_count == 2

    def test_a_window_another_process_opened_is_trusted_while_it_lasts(self):
        services.get_redis().set(services.drain_debounce_key(), 1, px=5_000)

        with mock.patch("integrations.tasks.oms_events_drain.apply_async") as enqueue, \
                mock.patch.object(services, "get_redis", wraps=services.get_redis) as redis:
            services.oms_drain_request()
            services.oms_drain_request()

        enqueue.assert_not_called()
        redis.assert_called_once_with()
