"""The admin of stored OMS events: every event can be seen, retried and discarded, even one
whose stored values Python cannot read back."""

from __future__ import annotations

import pytest
from django.urls import reverse

from integrations import services
from integrations.models import OmsEvent, OmsEventStatus
from tests import oms_events
from tests.integrations.test_oms_processing import POISONS, store, store_raw
from tests.oms_events import at

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:integrations_omsevent_changelist")


def status_of(pk: int) -> str:
    return OmsEvent.objects.filter(pk=pk).values_list("status", flat=True).get()


def act(admin_client, action: str, *pks: int):
    return admin_client.post(LIST_URL, {"action": action, "_selected_action": list(pks)}, follow=True)


@pytest.mark.parametrize("poison", POISONS)
def test_the_list_and_the_page_of_an_unreadable_event_answer(admin_client, poison):
    occurred_at, payload = POISONS[poison]
    store(oms_events.order_created("O1", occurred_at=at(0)))
    poison_id = store_raw(occurred_at=occurred_at, payload=payload)

    listing = admin_client.get(LIST_URL)
    filtered = admin_client.get(LIST_URL, {"status__exact": "pending"})
    page = admin_client.get(reverse("admin:integrations_omsevent_change", args=[poison_id]))

    assert listing.status_code == filtered.status_code == page.status_code == 200
    assert listing.content.count(b'name="_selected_action"') == 2
    if poison == "deep payload":
        assert b"[[[[" in page.content  # shown as stored, since it cannot be parsed
    else:
        assert "BC" in page.content.decode() or "10000" in page.content.decode()


@pytest.mark.parametrize("poison", POISONS)
def test_an_unreadable_event_can_be_retried_and_discarded(admin_client, poison):
    occurred_at, payload = POISONS[poison]
    poison_id = store_raw(occurred_at=occurred_at, payload=payload)
    services.oms_events_drain()
    assert status_of(poison_id) == OmsEventStatus.FAILED

    retried = act(admin_client, "retry_failed", poison_id)
    assert retried.status_code == 200
    assert status_of(poison_id) == OmsEventStatus.PENDING

    discarded = act(admin_client, "discard", poison_id)
    assert discarded.status_code == 200
    assert status_of(poison_id) == OmsEventStatus.DISCARDED
    assert services.oms_events_drain() == 0  # a discarded event is never processed


def test_a_discarded_event_can_be_retried_but_a_processed_one_is_never_discarded(admin_client):
    store(oms_events.order_created("O1", occurred_at=at(0)),
          oms_events.order_created("O2", occurred_at=at(1)))
    first, second = OmsEvent.objects.order_by("pk").values_list("pk", flat=True)
    OmsEvent.objects.filter(pk=first).update(status=OmsEventStatus.FAILED)
    services.oms_events_drain()

    act(admin_client, "discard", first, second)

    assert (status_of(first), status_of(second)) == (OmsEventStatus.DISCARDED, OmsEventStatus.PROCESSED)
    act(admin_client, "retry_failed", first)
    assert status_of(first) == OmsEventStatus.PENDING
    services.oms_events_drain()
    assert status_of(first) == OmsEventStatus.PROCESSED


def test_a_readable_event_shows_its_time_and_payload(admin_client):
    payload = oms_events.order_created("O1", occurred_at="2026-11-01T12:00:00+00:00")
    store(payload)
    pk = OmsEvent.objects.get().pk

    page = admin_client.get(reverse("admin:integrations_omsevent_change", args=[pk])).content.decode()

    assert "Nov. 1, 2026" in page
    assert payload["id"] in page and "margherita" in page
