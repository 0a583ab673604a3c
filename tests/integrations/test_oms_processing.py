"""Processing stored OMS events: upserts, totals, timeline, idempotency, out-of-order arrival."""

from __future__ import annotations

import json
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations import services
from integrations.models import OmsEvent, OmsEventStatus
from integrations.oms.schema import parse_envelope
from tests import oms_events
from tests.factories import ContactFactory, CourierFactory
from tests.oms_events import at
from tests.sessions import other_session
from tests.timeline.test_lock_order import rows_held_while_waiting
from timeline.models import Contact, Order, OrderStatusChange, TimelineEvent
from timeline.services import mirror as timeline_mirror

pytestmark = pytest.mark.django_db


def store(*payloads: dict) -> None:
    """Store events exactly as the webhook does, without HTTP."""
    for payload in payloads:
        services._store(parse_envelope(payload), json.dumps(payload).encode())


def customer(external_id: str = "C1") -> Contact:
    return Contact.objects.get(kind="customer", external_id=external_id)


def test_order_created_upserts_all_three_contacts_the_order_and_the_timeline():
    store(oms_events.order_created("O1", total="30.00", occurred_at=at(0)))

    assert services.oms_events_drain() == 1

    order = Order.objects.select_related("customer", "courier", "partner").get()
    assert order.external_id == "O1"
    assert order.total == Decimal("30.00")
    assert (order.customer.kind, order.courier.kind, order.partner.kind) == (
        "customer", "courier", "partner")
    assert order.courier.vehicle == "motorbike"
    assert order.partner.store_category == "restaurant"
    assert order.customer.preferred_language == "es"
    assert (order.customer.lifetime_order_value, order.customer.order_count) == (Decimal("30.00"), 1)
    assert list(order.status_history.values_list("status", flat=True)) == ["created"]
    kinds = set(TimelineEvent.objects.filter(contact=order.customer).values_list("kind", flat=True))
    assert kinds == {"contact.created", "order.created"}
    assert TimelineEvent.objects.filter(contact=order.courier, kind="order.courier_assigned").exists()
    assert OmsEvent.objects.get().status == OmsEventStatus.PROCESSED


def test_lifetime_value_and_count_follow_orders_and_cancellations():
    store(
        oms_events.order_created("O1", total="30.00", occurred_at=at(0)),
        oms_events.order_created("O2", total="12.50", occurred_at=at(1)),
        oms_events.event("order.cancelled", {"order": {"id": "O1"}}, occurred_at=at(2)),
    )

    services.oms_events_drain()

    assert customer().lifetime_order_value == Decimal("12.50")
    assert customer().order_count == 1
    assert Order.objects.get(external_id="O1").cancelled_at is not None
    assert TimelineEvent.objects.filter(kind="order.cancelled").count() == 1


def test_an_order_moving_to_another_customer_moves_its_value():
    store(
        oms_events.order_created("O1", customer_id="C1", total="30.00", occurred_at=at(0)),
        oms_events.event("order.updated", {"order": {"id": "O1", "customer": "C2"}},
                         occurred_at=at(1)),
    )

    services.oms_events_drain()

    assert customer("C1").lifetime_order_value == Decimal("0.00")
    assert customer("C2").lifetime_order_value == Decimal("30.00")


def test_a_delay_is_recorded_on_the_order_and_the_timeline():
    store(oms_events.order_created("O1", occurred_at=at(0)),
          oms_events.order_delayed("O1", delay_minutes=25, occurred_at=at(5)))

    services.oms_events_drain()

    order = Order.objects.get()
    assert (order.is_delayed, order.delay_minutes) == (True, 25)
    delayed = TimelineEvent.objects.get(kind="order.delayed")
    assert delayed.payload["delay_minutes"] == 25
    assert delayed.payload["reason"] == "courier stuck in traffic"
    assert delayed.subject_type == "order" and delayed.subject_id == order.pk


def test_processing_the_same_events_again_changes_nothing():
    store(oms_events.order_created("O1", occurred_at=at(0)),
          oms_events.order_status_changed("O1", "preparing", occurred_at=at(1)))
    services.oms_events_drain()
    before = (TimelineEvent.objects.count(), OrderStatusChange.objects.count(),
              customer().lifetime_order_value)

    OmsEvent.objects.update(status=OmsEventStatus.PENDING)
    services.oms_events_drain()

    after = (TimelineEvent.objects.count(), OrderStatusChange.objects.count(),
             customer().lifetime_order_value)
    assert OrderStatusChange.objects.count() == 2
    assert after == before


def test_an_older_event_arriving_late_never_overwrites_a_newer_one():
    store(oms_events.order_status_changed("O1", "delivered", occurred_at=at(30)))
    services.oms_events_drain()
    store(oms_events.order_created("O1", status="created", total="30.00", occurred_at=at(0)),
          oms_events.order_status_changed("O1", "in_delivery", occurred_at=at(20)))

    services.oms_events_drain()

    order = Order.objects.get()
    assert order.status == "delivered"
    assert order.total == Decimal("30.00")
    assert list(order.status_history.values_list("status", flat=True)) == [
        "created", "in_delivery", "delivered"]
    assert customer().order_count == 1


def test_a_courier_update_naming_an_unknown_order_waits_for_it():
    store(oms_events.event("courier.updated", {"courier": {
        "id": "R9", "status": "active", "current_order_id": "O7"}}, occurred_at=at(0)))
    services.oms_events_drain()
    assert Contact.objects.get(external_id="R9").current_order.external_id == "O7"

    store(oms_events.order_created("O7", occurred_at=at(1)))
    services.oms_events_drain()

    assert TimelineEvent.objects.filter(kind="order.created", subject_id=Order.objects.get(
        external_id="O7").pk).exists()
    assert customer().order_count == 1


def test_contact_updates_write_what_changed_to_the_timeline():
    store(oms_events.event("customer.updated", {"customer": {"id": "C1", "tier": "vip",
                                                             "credit_balance": "5"}},
                           occurred_at=at(0)),
          oms_events.event("customer.updated", {"customer": {"id": "C1", "tier": "gold"}},
                           occurred_at=at(1)))

    services.oms_events_drain()

    assert customer().tier == "gold"
    assert customer().credit_balance == Decimal("5.00")
    update = TimelineEvent.objects.get(kind="contact.updated")
    assert update.payload == {"changes": {"tier": "gold"}}


def test_an_event_that_keeps_failing_is_marked_failed_and_the_rest_go_on(monkeypatch):
    store(oms_events.order_created("O1", occurred_at=at(0)),
          oms_events.order_created("O2", occurred_at=at(1)))
    real = timeline_mirror._order_change

    def flaky(order, **options):
        if order.external_id == "O1":
            raise RuntimeError("boom")
        return real(order, **options)

    # Fails the batch as a whole, and O1 on its own, every time.
    monkeypatch.setattr(timeline_mirror, "_order_change", flaky)
    for _ in range(services.MAX_ATTEMPTS):
        services.oms_events_drain()

    failed = OmsEvent.objects.get(payload__data__order__id="O1")
    assert failed.status == OmsEventStatus.FAILED
    assert failed.attempts == services.MAX_ATTEMPTS
    assert "boom" in failed.last_error
    assert OmsEvent.objects.get(payload__data__order__id="O2").status == OmsEventStatus.PROCESSED
    assert list(Order.objects.values_list("external_id", flat=True)) == ["O2"]
    assert customer().order_count == 1


_ORDER_STORY = [
    lambda: oms_events.order_created("O1", customer_id="C1", total="30.00", occurred_at=at(0)),
    lambda: oms_events.order_status_changed("O1", "preparing", occurred_at=at(1)),
    lambda: oms_events.order_delayed("O1", delay_minutes=10, occurred_at=at(2)),
    lambda: oms_events.event("order.updated", {"order": {"id": "O1", "total": "35.00"}},
                             occurred_at=at(3)),
    lambda: oms_events.order_status_changed("O1", "in_delivery", occurred_at=at(4)),
    lambda: oms_events.order_created("O2", customer_id="C1", total="10.00", occurred_at=at(5)),
    lambda: oms_events.event("order.delivered", {"order": {"id": "O1"}}, occurred_at=at(6)),
    lambda: oms_events.event("order.cancelled", {"order": {"id": "O2"}}, occurred_at=at(7)),
]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(order=st.permutations(range(len(_ORDER_STORY))),
       drain_every=st.integers(min_value=1, max_value=len(_ORDER_STORY)))
def test_any_arrival_order_converges_to_the_same_state(order, drain_every):
    # Each example starts from an empty desk (hypothesis runs them in one test transaction).
    Order.objects.all().delete()
    Contact.objects.all().delete()
    OmsEvent.objects.all().delete()
    for position, index in enumerate(order, start=1):
        store(_ORDER_STORY[index]())
        if position % drain_every == 0:
            services.oms_events_drain()
    services.oms_events_drain()

    o1, o2 = Order.objects.get(external_id="O1"), Order.objects.get(external_id="O2")
    assert (o1.status, o1.total, o1.is_delayed, o1.delay_minutes) == (
        "delivered", Decimal("35.00"), True, 10)
    assert o2.status == "cancelled"
    assert (customer().lifetime_order_value, customer().order_count) == (Decimal("35.00"), 1)
    assert list(o1.status_history.values_list("status", flat=True)) == [
        "created", "preparing", "in_delivery", "delivered"]


def test_a_drain_leaves_the_events_to_the_drainer_already_running():
    store(oms_events.order_created("O1", occurred_at=at(0)))
    with other_session() as other:
        other.execute("SELECT pg_advisory_lock(%s)", [services.DRAIN_LOCK_KEY])

        assert services.oms_events_drain() == 0
        assert OmsEvent.objects.get().status == OmsEventStatus.PENDING

        other.execute("SELECT pg_advisory_unlock(%s)", [services.DRAIN_LOCK_KEY])

    assert services.oms_events_drain() == 1
    assert OmsEvent.objects.get().status == OmsEventStatus.PROCESSED


def test_the_drain_gives_way_between_batches_while_reactions_are_behind(monkeypatch):
    from supportdesk import backpressure

    for number in range(5):
        store(oms_events.order_created(f"O{number}", occurred_at=at(number)))
    waits = []
    monkeypatch.setattr(backpressure, "behind", lambda: ["workflows.triggers"])
    monkeypatch.setattr(backpressure, "give_way", lambda: waits.append("waited") or 0.0)

    assert services.oms_events_drain(batch_size=2) == 5

    # After each full batch (more are likely waiting): never before the first (a drain always
    # moves the backlog on), nor after the last (short: nothing left to hold back).
    assert len(waits) == 2
    assert set(OmsEvent.objects.values_list("status", flat=True)) == {OmsEventStatus.PROCESSED}


def test_a_drain_leaves_the_events_to_the_drainer_giving_way():
    from supportdesk import advisory_locks

    store(oms_events.order_created("O1", occurred_at=at(0)))
    with other_session() as other:
        other.execute("SELECT pg_advisory_lock(%s)", [advisory_locks.OMS_DRAIN_GIVING_WAY])

        # No second drainer starts a batch meanwhile, nor waits in a worker of its own.
        assert services.oms_events_drain() == 0
        assert OmsEvent.objects.get().status == OmsEventStatus.PENDING

    # The one giving way is gone (its session ended): the next drain takes the event.
    assert services.oms_events_drain() == 1
    assert OmsEvent.objects.get().status == OmsEventStatus.PROCESSED


def test_totals_of_a_batch_are_refreshed_once_and_right():
    store(oms_events.order_created("O1", customer_id="C1", total="10.00", occurred_at=at(0)),
          oms_events.order_created("O2", customer_id="C1", total="5.00", occurred_at=at(1)),
          oms_events.order_created("O3", customer_id="C2", total="7.00", occurred_at=at(2)),
          oms_events.order_status_changed("O1", "cancelled", occurred_at=at(3)))

    assert services.oms_events_drain() == 4

    assert (customer("C1").lifetime_order_value, customer("C1").order_count) == (Decimal("5.00"), 1)
    assert (customer("C2").lifetime_order_value, customer("C2").order_count) == (Decimal("7.00"), 1)


_MIXED_STORY = [
    *_ORDER_STORY,
    # A courier picks up O3 before the OMS told us about O3 (a placeholder order), then O1.
    lambda: oms_events.event("courier.updated", {"courier": {
        "id": "R1", "vehicle": "bicycle", "status": "active", "current_order_id": "O3"}},
        occurred_at=at(2.5)),
    lambda: oms_events.event("courier.updated", {"courier": {
        "id": "R1", "status": "idle", "current_order_id": None}}, occurred_at=at(8)),
    lambda: oms_events.order_created("O3", customer_id="C2", total="12.50", occurred_at=at(3.5)),
    lambda: oms_events.order_status_changed("O3", "in_delivery", occurred_at=at(4.5)),
    lambda: oms_events.event("customer.updated", {"customer": {
        "id": "C1", "tier": "gold", "credit_balance": "5.00"}}, occurred_at=at(1.5)),
    lambda: oms_events.event("customer.updated", {"customer": {"id": "C1", "tier": "vip"}},
                             occurred_at=at(0.5)),
    lambda: oms_events.event("partner.updated", {"partner": {
        "id": "P1", "store_name": "Corner shop", "category": "grocery"}}, occurred_at=at(6.5)),
]


def _snapshot() -> dict:
    """Everything the mirror writes, without ids and write times."""
    contact_fields = ["kind", "external_id", "name", "email", "phone", "preferred_language",
                      "country", "tier", "credit_balance", "lifetime_order_value", "order_count",
                      "vehicle", "courier_status", "current_order__external_id", "store_name",
                      "store_category", "field_versions"]
    order_fields = ["external_id", "customer__external_id", "courier__external_id",
                    "partner__external_id", "status", "total", "currency", "items", "placed_at",
                    "is_delayed", "delay_minutes", "delay_reason", "field_versions"]
    return {
        "contacts": sorted(Contact.objects.values_list(*contact_fields), key=repr),
        "orders": sorted(Order.objects.values_list(*order_fields), key=repr),
        "history": sorted(OrderStatusChange.objects.values_list(
            "order__external_id", "status", "occurred_at", "source_event_id"), key=repr),
        "timeline": sorted(TimelineEvent.objects.values_list(
            "contact__external_id", "kind", "occurred_at", "actor", "payload", "subject_type"),
            key=repr),
    }


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(order=st.permutations(range(len(_MIXED_STORY))))
def test_a_batch_ends_where_applying_its_events_one_by_one_ends(order):
    payloads = [_MIXED_STORY[index]() for index in order]
    results = []
    for together in (True, False):
        TimelineEvent.objects.all().delete()
        Order.objects.all().delete()
        Contact.objects.all().delete()
        OmsEvent.objects.all().delete()
        store(*payloads)
        if together:
            # The batch must go through as one, not fall back to one by one.
            with mock.patch.object(services, "_process_one", side_effect=AssertionError):
                assert services.oms_events_drain() == len(payloads)
        else:
            for event in OmsEvent.objects.order_by("id"):
                services.oms_event_process(event=event)
        results.append(_snapshot())

    assert results[0] == results[1]
    assert OmsEvent.objects.count() == len(payloads)


def test_a_long_drain_hands_over_to_a_fresh_one(monkeypatch):
    store(oms_events.order_created("O1", occurred_at=at(0)))
    monkeypatch.setattr(services, "DRAIN_MAX_SECONDS", 0.0)

    with mock.patch("integrations.tasks.oms_events_drain.apply_async") as enqueue:
        assert services.oms_events_drain() == 0

    enqueue.assert_called_once_with()
    monkeypatch.setattr(services, "DRAIN_MAX_SECONDS", 30.0)
    assert services.oms_events_drain() == 1


def test_a_failure_in_one_customers_totals_holds_back_only_that_customers_event(monkeypatch):
    store(oms_events.order_created("O1", customer_id="C1", total="10.00", occurred_at=at(0)),
          oms_events.order_created("O2", customer_id="C2", total="7.00", occurred_at=at(1)))
    real = timeline_mirror.customers_totals_refresh

    def refresh(*, customer_ids):
        ids = set(customer_ids)
        if Contact.objects.filter(pk__in=ids, external_id="C1").exists():
            raise RuntimeError("numeric field overflow")
        return real(customer_ids=ids)

    # The batch refreshes the totals through the name its own module imported.
    monkeypatch.setattr(timeline_mirror, "customers_totals_refresh", refresh)
    services.oms_events_drain()

    first = OmsEvent.objects.get(payload__data__order__id="O1")
    assert (first.status, first.attempts) == (OmsEventStatus.PENDING, 1)
    assert "numeric field overflow" in first.last_error
    assert OmsEvent.objects.get(payload__data__order__id="O2").status == OmsEventStatus.PROCESSED
    assert customer("C2").lifetime_order_value == Decimal("7.00")
    assert not Order.objects.filter(external_id="O1").exists()


# --- Poison: events stored before intake knew better, or that slipped past it ---------------------


def store_raw(*, occurred_at: str, payload: str) -> OmsEvent:
    """A row as an older intake could have stored it, bypassing today's validation."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO integrations_omsevent (event_id, event_type, occurred_at, payload, "
            "received_at, status, attempts, last_error) VALUES (%s, 'order.created', "
            "%s::timestamptz, %s::jsonb, now(), 'pending', 0, '') RETURNING id",
            [f"evt-poison-{occurred_at}-{len(payload)}", occurred_at, payload],
        )
        return cursor.fetchone()[0]


POISONS = {
    # PostgreSQL stores these instants; Python cannot read them back (year 0, year 10000).
    "year 0": ("0001-01-01T00:00:00+14:00", json.dumps(oms_events.order_created("OX"))),
    "year 10000": ("9999-12-31T23:00:00-14:00", json.dumps(oms_events.order_created("OX"))),
    # jsonb holds nesting Python's json parser gives up on (RecursionError).
    "deep payload": ("2026-11-01T12:00:00Z", "[" * 5000 + "]" * 5000),
}


@pytest.mark.parametrize("poison", POISONS)
def test_an_event_that_cannot_be_read_back_is_set_aside_and_the_rest_flow_on(poison):
    occurred_at, payload = POISONS[poison]
    store(oms_events.order_created("O1", occurred_at=at(0)))
    poison_id = store_raw(occurred_at=occurred_at, payload=payload)
    store(oms_events.order_created("O2", occurred_at=at(1)))

    assert services.oms_events_drain() == 3

    statuses = dict(OmsEvent.objects.values_list("pk", "status").order_by())  # no occurred_at read
    assert statuses.pop(poison_id) == OmsEventStatus.FAILED
    assert set(statuses.values()) == {OmsEventStatus.PROCESSED}
    assert sorted(Order.objects.values_list("external_id", flat=True)) == ["O1", "O2"]
    assert OmsEvent.objects.filter(pk=poison_id).values_list("last_error", flat=True).get()
    # Nothing is left pending: the next drain has nothing to do, and does not loop on it.
    assert services.oms_events_drain() == 0


@pytest.mark.parametrize("poison", POISONS)
def test_a_poisoned_event_retried_is_set_aside_again(poison):
    occurred_at, payload = POISONS[poison]
    poison_id = store_raw(occurred_at=occurred_at, payload=payload)
    services.oms_events_drain()
    event_id = OmsEvent.objects.filter(pk=poison_id).values_list("event_id", flat=True).get()

    assert services.oms_events_retry(event_ids=[event_id]) == 1
    assert services.oms_events_drain() == 1

    assert OmsEvent.objects.filter(pk=poison_id).values_list("status", flat=True).get() == "failed"


def test_a_lifetime_value_past_what_its_column_holds_stays_at_the_column_maximum():
    # Each total fits its column; a hundred of them overflow the customer's lifetime sum.
    store(*(oms_events.order_created(f"O{n}", customer_id="C1", total="9999999999.99",
                                     occurred_at=at(n)) for n in range(101)))
    store(oms_events.event("customer.updated", {"customer": {"id": "C1", "tier": "vip"}},
                           occurred_at=at(200)))

    services.oms_events_drain()

    assert set(OmsEvent.objects.values_list("status", flat=True)) == {OmsEventStatus.PROCESSED}
    ceiling = Decimal("999999999999.99")  # numeric(14, 2)
    assert (customer().lifetime_order_value, customer().order_count, customer().tier) == (
        ceiling, 101, "vip")


@pytest.mark.django_db(transaction=True)
def test_one_event_at_a_time_locks_its_contacts_by_id_not_by_kind():
    # The courier has the lower id; the customer (locked first, by kind, before) the higher.
    courier = CourierFactory(external_id="R1")
    customer_row = ContactFactory(external_id="C1")
    store(oms_events.order_created("O1", customer_id="C1", occurred_at=at(0)))

    def process() -> None:
        with transaction.atomic():  # as the drain applies it
            services.oms_event_process(event=OmsEvent.objects.get())

    holding = rows_held_while_waiting(process, wait_for=courier, watch=[customer_row])

    assert holding == []
    assert Order.objects.get().courier_id == courier.pk
