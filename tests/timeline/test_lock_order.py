"""Every writer of contacts and orders takes its row locks in the one order documented in
`timeline.services` (contacts by ascending id, then orders by ascending id), so no two of
them can deadlock.

Each case makes a writer wait for one row another session holds, then checks, from a third
session, which rows the writer already holds while it waits: under the one order, a writer
waiting for a contact holds no order and no contact of a higher id. The writers are the
OMS drain, an admin's order edit and a merge (and, in tests/integrations, the drain
applying one event at a time).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal

import psycopg
import pytest
from django.db import connection, models
from django.utils import timezone

from tests.factories import ContactFactory, OrderFactory
from timeline import services
from timeline.models import Contact, Order

pytestmark = pytest.mark.django_db(transaction=True)


def _connect() -> psycopg.Connection:
    params = connection.settings_dict
    return psycopg.connect(host=params["HOST"] or "localhost", port=params["PORT"] or 5432,
                           user=params["USER"] or None, password=params["PASSWORD"] or None,
                           dbname=params["NAME"])


@contextmanager
def held(row: models.Model) -> Iterator[None]:
    """Another session holds this row's lock until the block ends."""
    with _connect() as other:
        other.execute(f"SELECT 1 FROM {row._meta.db_table} WHERE id = %s FOR UPDATE", [row.pk])
        yield
        other.rollback()


def is_free(row: models.Model) -> bool:
    with _connect() as probe:
        try:
            probe.execute(f"SELECT 1 FROM {row._meta.db_table} WHERE id = %s FOR UPDATE NOWAIT",
                          [row.pk])
        except psycopg.errors.LockNotAvailable:
            return False
        finally:
            probe.rollback()
    return True


def rows_held_while_waiting(writer: Callable[[], object], *, wait_for: models.Model,
                            watch: list[models.Model]) -> list[models.Model]:
    """Run `writer` in a thread of its own while another session holds `wait_for`; once the
    writer waits for a lock, return which rows of `watch` it holds. Then let it finish."""
    pid: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            connection.ensure_connection()
            pid.append(connection.connection.info.backend_pid)
            writer()
        except BaseException as exc:  # noqa: BLE001  (reported by the test below)
            errors.append(exc)
        finally:
            connection.close()

    with held(wait_for):
        thread = threading.Thread(target=run)
        thread.start()
        with _connect() as monitor:
            # No timing threshold: this only waits for the writer to reach its lock wait.
            while not (pid and monitor.execute(
                    "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s",
                    [pid[0]]).fetchone()[0]):
                assert thread.is_alive() and not errors, errors
                time.sleep(0.01)
        holding = [row for row in watch if not is_free(row)]
    thread.join()
    assert not errors, errors
    return holding


def lower_and_higher(factory: Callable[..., Contact], **fields) -> tuple[Contact, Contact]:
    first, second = factory(**fields), factory(**fields)
    return (first, second) if first.pk < second.pk else (second, first)


def mirrored_order(order: Order, **fields) -> services.MirroredEvent:
    return services.MirroredEvent(
        source_event_id=f"evt-{time.monotonic_ns()}", occurred_at=timezone.now(), contacts=[],
        order=services.MirroredOrder(external_id=order.external_id, fields=fields, parties={}))


def test_the_drain_waiting_for_an_orders_customer_holds_no_order():
    # The drain applies a status change naming no customer; the customer's totals move.
    customer = ContactFactory()
    order = OrderFactory(customer=customer, total=Decimal("10.00"))

    holding = rows_held_while_waiting(
        lambda: services.mirror_batch(batch=[mirrored_order(order, status="cancelled")]),
        wait_for=customer, watch=[order])

    assert holding == []


def test_an_admin_order_edit_waiting_for_the_previous_customer_holds_no_order():
    # The admin moves an order to another customer; the previous customer's totals move.
    previous, new = ContactFactory(), ContactFactory()
    order = OrderFactory(customer=previous, total=Decimal("10.00"))

    holding = rows_held_while_waiting(
        lambda: services.order_upsert(external_id=order.external_id, fields={"customer": new},
                                      occurred_at=timezone.now(), actor="user:1"),
        wait_for=previous, watch=[order, new])

    assert holding == ([new] if new.pk < previous.pk else [])


def test_an_oms_update_of_a_merged_contact_waits_for_the_lower_id_first():
    # The contact kept has the lower id; the OMS still knows the person by the merged id.
    kept, merged = lower_and_higher(ContactFactory)
    services.contact_merge(source=merged, target=kept)

    holding = rows_held_while_waiting(
        lambda: services.contact_upsert(kind="customer", external_id=merged.external_id,
                                        fields={"phone": "+34 600 000 001"},
                                        occurred_at=timezone.now()),
        wait_for=kept, watch=[merged])

    assert holding == []
    kept.refresh_from_db()
    assert kept.phone == "+34 600 000 001"


def test_a_merge_waiting_for_a_contact_merged_earlier_holds_neither_side():
    # An earlier merge put `earlier` (the lowest id) into `source`; merging `source` into
    # `target` re-points `earlier` too.
    earlier = ContactFactory()
    source, target = ContactFactory(), ContactFactory()
    services.contact_merge(source=earlier, target=source)

    holding = rows_held_while_waiting(
        lambda: services.contact_merge(source=source, target=target),
        wait_for=earlier, watch=[source, target])

    assert holding == []
    assert Contact.objects.get(pk=earlier.pk).merged_into_id == target.pk


def test_a_merge_waiting_for_a_contact_holds_none_of_its_orders():
    source, target = ContactFactory(), ContactFactory()
    order = OrderFactory(customer=source, total=Decimal("10.00"))
    lower = source if source.pk < target.pk else target
    higher = target if lower is source else source

    holding = rows_held_while_waiting(
        lambda: services.contact_merge(source=source, target=target),
        wait_for=higher, watch=[order])

    assert holding == []
    assert is_free(lower)  # released with the transaction
    assert Order.objects.get(pk=order.pk).customer_id == target.pk
