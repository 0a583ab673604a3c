"""The whole path with a real Celery worker on the real Redis broker and PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from unittest import mock

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings

from integrations import services
from integrations.models import OmsEvent, OmsEventStatus
from integrations.oms.signature import signed_headers
from integrations.tasks import oms_events_drain
from supportdesk.celery import app as celery_app
from tests import oms_events
from tests.oms_events import WEBHOOK_URL, dumps
from timeline.models import Contact

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker(private_worker) -> Iterator[None]:
    """The suite's private worker, with no drain window left open by an earlier test (its
    drain went to another queue)."""
    services.get_redis().delete(services.drain_debounce_key())
    services._drain_window_ends = 0.0
    yield


def wait_until(predicate, *, timeout: float = 60.0) -> None:
    """Poll until the worker has done its job; a bound on waiting, not a speed assertion."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("the worker did not finish in time")
        time.sleep(0.05)


def post(oms_client, payload: dict) -> int:
    body = dumps(payload)
    headers = signed_headers(secret=django_settings.OMS_WEBHOOK_SECRET, body=body)
    return oms_client.post(WEBHOOK_URL, data=body, content_type="application/json",
                       headers=headers).status_code


def all_processed() -> bool:
    return not OmsEvent.objects.exclude(status=OmsEventStatus.PROCESSED).exists()


def test_accepted_events_are_processed_by_the_worker(oms_client, worker):
    statuses = [post(oms_client, oms_events.order_created(f"O{n}", customer_id="C1", total="10.00"))
                for n in range(20)]

    assert statuses == [202] * 20
    wait_until(lambda: OmsEvent.objects.count() == 20 and all_processed())
    customer = Contact.objects.get(kind="customer", external_id="C1")
    assert (customer.order_count, str(customer.lifetime_order_value)) == (20, "200.00")


def test_events_stored_while_no_worker_could_be_reached_are_processed_later(oms_client):
    with mock.patch("integrations.services.get_redis", side_effect=ConnectionError("down")):
        assert post(oms_client, oms_events.order_created("O1")) == 202
        assert post(oms_client, oms_events.order_created("O2")) == 202
    assert OmsEvent.objects.filter(status=OmsEventStatus.PENDING).count() == 2

    queue = f"tests-{uuid.uuid4().hex[:8]}"
    # No drain window left open by an earlier test (its drain went to another queue).
    services.get_redis().delete(services.drain_debounce_key())
    services._drain_window_ends = 0.0
    with start_worker(celery_app, pool="solo", perform_ping_check=False, queues=[queue]):
        oms_events_drain.apply_async(queue=queue)  # what beat does every few seconds
        wait_until(all_processed)

    assert Contact.objects.filter(kind="customer").count() == 1


def test_beat_runs_the_drain_every_few_seconds():
    entry = django_settings.CELERY_BEAT_SCHEDULE["oms-events-drain"]

    assert entry["task"] == oms_events_drain.name
    assert 0 < entry["schedule"] <= 10
