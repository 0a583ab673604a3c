"""Property tests of the OMS webhook: whatever arrives, signed or not, the answer is never a
5xx, and an event it accepts can always be processed (the drain applies it and goes on).

Bounded (max_examples) so the file runs in well under a minute.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from integrations import services
from integrations.models import OmsEvent, OmsEventStatus
from integrations.oms.schema import EVENT_TYPES
from integrations.oms.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers
from tests.asgi_client import AsgiClient
from tests.oms_events import WEBHOOK_URL

SECRET = "fuzz-oms-secret"
pytestmark = pytest.mark.django_db(transaction=True)
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.OMS_WEBHOOK_SECRET = SECRET


# --- strategies: JSON, and values chosen to sit on every edge the columns have ----------------

_text = st.text(max_size=30) | st.sampled_from(["", " ", "\x00", "a\x00b", "\ud800", "\udfff x",
                                                 "é" * 201, "x" * 65, "[{" * 40])
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=15,
)


@st.composite
def _times(draw) -> str:
    """ISO 8601 strings from year 1 to 9999, with offsets up to +-23:59 and impossible dates."""
    if draw(st.booleans()):
        return draw(st.sampled_from([
            "0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-14:00", "2026-02-30T10:00:00Z",
            "2026-11-01T24:00:00Z", "2026-11-01T12:00:00+16:00", "1899-12-31T23:59:59Z",
            "2999-12-31T23:59:59.999999-14:00", "1900-01-01T00:00:00+14:00", "2026-11-01",
            "2026-11-01T12:00:00", "2026-W44-1T12:00:00Z",
        ]))
    moment = draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
    offset = draw(st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1))
    return moment.replace(tzinfo=timezone(timedelta(minutes=offset))).isoformat()


_amounts = (st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str)
            | st.floats(allow_nan=False) | st.integers()
            | st.sampled_from(["9999999999.99", "9999999999.995", "-0.001", "1e9", "0.004",
                               "99999999999999999999999999999999999"]))
_tags = st.lists(_text, max_size=5) | st.sampled_from([["t"] * 1001, ["x" * 64], ["x" * 65]])


def _contact(kind: str) -> st.SearchStrategy:
    extra = {
        "customer": {"tier": st.sampled_from(["gold", "vip", "", "platinum"]),
                     "credit_balance": _amounts},
        "courier": {"vehicle": st.sampled_from(["bicycle", "jet", None]),
                    "status": st.sampled_from(["active", "idle", "lost"]),
                    "current_order_id": st.none() | st.sampled_from(["O1", "O2"]) | _text},
        "partner": {"store_name": _text, "category": _text},
    }[kind]
    return st.fixed_dictionaries(
        {"id": st.sampled_from(["C1", "C2", "R1", "P1"]) | _text | st.integers()},
        optional={"name": _text, "email": _text | st.just("a@example.com"), "phone": _text,
                  "language": _text, "country": st.sampled_from(["ES", "es", "ÄÖ", "E"]),
                  "attributes": _json, "tags": _tags, **extra},
    ) | _text


_order = st.fixed_dictionaries(
    {"id": st.sampled_from(["O1", "O2"]) | _text},
    optional={"customer": _contact("customer"), "courier": _contact("courier"),
              "partner": _contact("partner"),
              "status": st.sampled_from(["created", "delivered", "cancelled", "bogus"]),
              "total": _amounts, "currency": st.sampled_from(["EUR", "eur", "€€€", "EU"]),
              "items": st.lists(_json, max_size=3) | st.just([{"sku": "x"}] * 1001),
              "placed_at": _times(), "promised_at": _times(), "delivered_at": _times(),
              "cancelled_at": _times()},
)
_envelopes = st.fixed_dictionaries({
    "id": st.just("replaced in the test"),
    "type": st.sampled_from(EVENT_TYPES),
    "occurred_at": _times(),
    "data": st.fixed_dictionaries({}, optional={
        "order": _order, "delay_minutes": st.integers() | _json, "reason": _text,
        "customer": _contact("customer"), "courier": _contact("courier"),
        "partner": _contact("partner"),
    }),
})


# Valid, but on every edge the columns have: the events the intake must accept and
# processing must then apply.
_edge_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=8)


@st.composite
def _edge_times(draw) -> str:
    utc = draw(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2999, 12, 31, 23, 59, 59)))
    offset = timedelta(minutes=draw(st.integers(min_value=-14 * 60, max_value=14 * 60)))
    return (utc + offset).replace(tzinfo=timezone(offset)).isoformat()


_edge_amounts = (st.decimals(min_value=0, max_value="9999999999.99", places=2).map(str)
                 | st.integers(min_value=0, max_value=9_999_999_999)
                 | st.sampled_from(["9999999999.99", "9999999999.994", "0", "0.005", 1e9]))


def _edge_contact(kind: str) -> st.SearchStrategy:
    extra = {
        "customer": {"tier": st.sampled_from(["gold", "vip", ""]), "credit_balance":
                     _edge_amounts | st.just("-9999999999.99")},
        "courier": {"vehicle": st.sampled_from(["bicycle", "van", None]),
                    "status": st.sampled_from(["active", "idle"]),
                    "current_order_id": st.none() | st.sampled_from(["O1", "O2", "x" * 128])},
        "partner": {"store_name": st.sampled_from(["é" * 200, "Roma"]), "category": _edge_text},
    }[kind]
    return st.fixed_dictionaries(
        {"id": st.sampled_from(["C1", "C2", "R1", "P1", "x" * 128, 7])},
        optional={"name": _edge_text | st.just("名" * 200), "phone": st.just("+" + "9" * 31),
                  "language": st.just("x" * 16), "country": st.sampled_from(["ES", "", None]),
                  "attributes": st.dictionaries(_edge_text, _json.filter(lambda v: "\x00" not in
                                                json.dumps(v)), max_size=3),
                  "tags": st.lists(st.just("t" * 64), max_size=3) | st.just(["t"] * 1000),
                  **extra},
    )


_edge_envelopes = st.fixed_dictionaries({
    "type": st.sampled_from(EVENT_TYPES),
    "occurred_at": _edge_times(),
    "data": st.fixed_dictionaries(
        {"order": st.fixed_dictionaries(
            {"id": st.sampled_from(["O1", "O2", "x" * 128]), "customer": _edge_contact("customer"),
             "status": st.sampled_from(["created", "in_delivery", "delivered", "cancelled"])},
            optional={"courier": _edge_contact("courier"), "partner": _edge_contact("partner"),
                      "total": _edge_amounts, "currency": st.just("EUR"),
                      "items": st.just([{"sku": "x", "n": [[[1]]]}] * 1000),
                      "placed_at": _edge_times(), "promised_at": _edge_times(),
                      "delivered_at": _edge_times(), "cancelled_at": _edge_times()}),
         "delay_minutes": st.integers(min_value=0, max_value=1_000_000),
         "reason": st.just("r" * 200),
         "customer": _edge_contact("customer"), "courier": _edge_contact("courier"),
         "partner": _edge_contact("partner")},
    ),
})


def _post(body: bytes, headers: dict[str, str]):
    return AsgiClient().post(WEBHOOK_URL, data=body, headers=headers)


def _assert_not_5xx(response) -> None:
    assert response.status_code < 500, response.content
    assert response["Content-Type"] == "application/json"
    if response.status_code >= 400:
        assert set(response.json()["error"]) >= {"code", "message"}


# --- the properties ------------------------------------------------------------------------------


@FUZZ
@given(body=st.binary(max_size=400) | _json.map(lambda value: json.dumps(value).encode()),
       signed=st.booleans())
def test_arbitrary_bytes_and_json_signed_or_not_never_get_a_5xx(body, signed):
    headers = signed_headers(secret=SECRET, body=body) if signed else {}

    response = _post(body, headers)

    _assert_not_5xx(response)
    if not signed:
        assert response.status_code == 401


@FUZZ
@given(timestamp=st.binary(max_size=30), signature=st.binary(max_size=80),
       body=st.binary(max_size=100))
def test_arbitrary_signature_headers_get_a_401(timestamp, signature, body):
    # Any bytes a client may put in a header (ASGI hands them over as sent; decoded latin-1).
    headers = {TIMESTAMP_HEADER: timestamp.decode("latin-1").strip(),
               SIGNATURE_HEADER: signature.decode("latin-1").strip()}

    response = AsgiClient().request("POST", WEBHOOK_URL, data=body, headers={
        name: value.encode("latin-1").decode("utf-8", "replace") for name, value in headers.items()})

    _assert_not_5xx(response)
    assert response.status_code == 401


@FUZZ
@given(envelope=_envelopes | _edge_envelopes)
def test_an_accepted_event_is_always_processed_and_the_drain_goes_on(envelope):
    envelope = {**envelope, "id": f"evt-fuzz-{uuid.uuid4()}"}  # unique across examples too
    body = json.dumps(envelope).encode()

    response = _post(body, signed_headers(secret=SECRET, body=body, timestamp=int(time.time())))

    _assert_not_5xx(response)
    event(f"answered {response.status_code}")
    if response.status_code == 202:
        services.oms_events_drain()
        stored = OmsEvent.objects.get(event_id=envelope["id"])
        assert (stored.status, stored.last_error) == (OmsEventStatus.PROCESSED, "")
        assert not OmsEvent.objects.filter(status=OmsEventStatus.PENDING).exists()


def test_the_envelopes_reach_processing():
    """The strategy is not all noise: a plain event built from it is accepted and processed."""
    envelope = {"id": f"evt-fuzz-{uuid.uuid4()}", "type": "order.created",
                "occurred_at": datetime.now(UTC).isoformat(),
                "data": {"order": {"id": "O1", "customer": {"id": "C1"}, "total": "9999999999.99",
                                   "placed_at": "2999-12-31T23:59:59.999999+14:00"}}}
    body = json.dumps(envelope).encode()

    assert _post(body, signed_headers(secret=SECRET, body=body)).status_code == 202
    services.oms_events_drain()
    assert OmsEvent.objects.get().status == OmsEventStatus.PROCESSED
