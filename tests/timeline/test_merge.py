"""Merging two contacts that are the same person: what moves, what is filled, the audit
event, the refusals and who may do it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from conversations.models import Conversation
from supportdesk.errors import DomainError
from tests.factories import (
    ContactFactory,
    ConversationFactory,
    CourierFactory,
    OrderFactory,
    PartnerFactory,
    SupervisorFactory,
    UserFactory,
)
from timeline import events, selectors
from timeline.events import EventKind
from timeline.models import Contact, Order, TimelineEvent
from timeline.search import contact_search
from timeline.services import contact_merge

pytestmark = pytest.mark.django_db


def merge_url(contact_id: int) -> str:
    return f"/api/v1/contacts/{contact_id}/merge/"


def counts(contact: Contact) -> dict[str, int]:
    return {
        "events": TimelineEvent.objects.filter(contact=contact).count(),
        "orders": Order.objects.filter(customer=contact).count(),
        "conversations": Conversation.objects.filter(contact=contact).count(),
    }


def note(contact: Contact, text: str = "x") -> TimelineEvent:
    return events.contact_updated_event(
        contact=contact, changes={"name": text}, occurred_at=timezone.now(), actor="system"
    )


@pytest.fixture
def staff_client(api_client):
    """A supervisor (the core's permission): merging is theirs."""
    api_client.force_authenticate(SupervisorFactory())
    return api_client


# --- What moves --------------------------------------------------------------------------------


def test_everything_of_the_source_moves_to_the_target_and_nothing_is_lost():
    # given the same customer twice, each with events, orders and conversations
    source, target = ContactFactory(), ContactFactory()
    for contact, n in [(source, 3), (target, 2)]:
        for i in range(n):
            note(contact, f"{contact.pk}-{i}")
        OrderFactory.create_batch(n, customer=contact, total=Decimal("10.00"))
        ConversationFactory.create_batch(n, contact=contact)
    before = {"source": counts(source), "target": counts(target)}
    event_ids = set(TimelineEvent.objects.filter(contact__in=[source, target]).values_list("id", flat=True))

    # when merging the source into the target
    merged = contact_merge(source=source, target=target)

    # then the target has all of both (plus the merge event), the source nothing
    assert counts(source) == {"events": 0, "orders": 0, "conversations": 0}
    assert counts(target) == {
        "events": before["source"]["events"] + before["target"]["events"] + 1,
        "orders": before["source"]["orders"] + before["target"]["orders"],
        "conversations": before["source"]["conversations"] + before["target"]["conversations"],
    }
    # and every earlier event is still there, unchanged apart from whose timeline it is on
    assert event_ids <= set(TimelineEvent.objects.filter(contact=target).values_list("id", flat=True))
    # and the target's totals count the orders it gained
    assert merged.order_count == 5
    assert merged.lifetime_order_value == Decimal("50.00")
    source.refresh_from_db()
    assert (source.order_count, source.lifetime_order_value) == (0, Decimal("0.00"))


def test_orders_move_whatever_side_the_contact_is_on():
    # given a courier twice, one of them delivering orders, and a partner twice
    source_courier, target_courier = CourierFactory(), CourierFactory()
    source_partner, target_partner = PartnerFactory(), PartnerFactory()
    order = OrderFactory(courier=source_courier, partner=source_partner)

    # when merging both pairs
    contact_merge(source=source_courier, target=target_courier)
    contact_merge(source=source_partner, target=target_partner)

    # then the order points at the contacts kept
    order.refresh_from_db()
    assert (order.courier_id, order.partner_id) == (target_courier.pk, target_partner.pk)


def test_contacts_merged_into_the_source_earlier_now_point_at_the_target():
    # given A merged into B, then B merged into C
    a, b, c = ContactFactory(), ContactFactory(), ContactFactory()
    contact_merge(source=a, target=b)

    contact_merge(source=b, target=c)

    # then A leads straight to C, with no chain to follow
    a.refresh_from_db()
    assert a.merged_into_id == c.pk


# --- Fields and the record ----------------------------------------------------------------------


def test_the_targets_empty_fields_are_filled_and_its_own_values_kept():
    # given a target missing some details the source has, and with its own name
    source = ContactFactory(name="Lucía F.", email="lucia@mail.es", phone="+34612345678",
                            tier="gold", attributes={"vip_note": "x", "city": "Sevilla"},
                            tags=["app", "late"])
    target = ContactFactory(name="Lucía Fernández", email="", phone="", tier="",
                            attributes={"city": "Madrid"}, tags=["late"])

    # when merging
    merged = contact_merge(source=source, target=target)

    # then the empty fields are filled, the target's own values win
    merged.refresh_from_db()
    assert merged.name == "Lucía Fernández"
    assert (merged.email, merged.phone, merged.tier) == ("lucia@mail.es", "+34612345678", "gold")
    assert merged.attributes == {"vip_note": "x", "city": "Madrid"}
    assert merged.tags == ["late", "app"]


def test_the_merge_is_recorded_on_the_targets_timeline_with_who_and_what():
    # given a source with one order and one conversation, merged by a staff member
    staff = UserFactory(is_staff=True)
    source = ContactFactory(email="old@mail.es", external_id="OLD-7")
    target = ContactFactory(email="")
    OrderFactory(customer=source)
    ConversationFactory(contact=source)

    # when merging
    contact_merge(source=source, target=target, merged_by=staff)

    # then one contact.merged event on the target says who, from whom, and what moved
    event = TimelineEvent.objects.get(contact=target, kind=EventKind.CONTACT_MERGED)
    assert event.actor == f"user:{staff.pk}"
    assert (event.subject_type, event.subject_id) == ("contact", source.pk)
    assert event.payload["source_id"] == source.pk
    assert event.payload["source_external_id"] == "OLD-7"
    assert event.payload["moved"]["timeline.order.customer"] == 1
    assert event.payload["moved"]["conversations.conversation.contact"] == 1
    assert "email" in event.payload["filled"]


def test_the_merged_contact_is_kept_marked_and_left_out_of_the_list_and_search():
    # given two contacts with one name
    source = ContactFactory(name="Iñaki Núñez")
    target = ContactFactory(name="Iñaki Núñez")

    # when merging
    contact_merge(source=source, target=target)

    # then the source still exists, marked, but only the target is listed and found
    source.refresh_from_db()
    assert source.merged_into_id == target.pk
    assert list(selectors.contact_list()) == [target]
    assert [hit.contact.pk for hit in contact_search(query="inaki nunez")] == [target.pk]


# --- Refusals -----------------------------------------------------------------------------------


def test_a_contact_cannot_be_merged_into_itself():
    contact = ContactFactory()

    with pytest.raises(DomainError) as refused:
        contact_merge(source=contact, target=contact)

    assert refused.value.code == "merge_into_self"


def test_contacts_of_different_kinds_cannot_be_merged():
    customer, courier = ContactFactory(), CourierFactory()
    note(customer)

    with pytest.raises(DomainError) as refused:
        contact_merge(source=customer, target=courier)

    # and nothing moved
    assert refused.value.code == "merge_kind_mismatch"
    assert counts(customer)["events"] == 1
    customer.refresh_from_db()
    assert customer.merged_into_id is None


@pytest.mark.parametrize("merged_side", ["source", "target"])
def test_a_contact_already_merged_cannot_be_merged_again(merged_side):
    # given a contact already merged into a third
    kept, source, target = ContactFactory(), ContactFactory(), ContactFactory()
    contact_merge(source=source if merged_side == "source" else target, target=kept)

    with pytest.raises(DomainError) as refused:
        contact_merge(source=source, target=target)

    assert refused.value.status_code == 409
    assert refused.value.code == {"source": "already_merged", "target": "target_merged"}[merged_side]


# --- The API ------------------------------------------------------------------------------------


def test_staff_merge_through_the_api_and_get_the_contact_kept(staff_client):
    source, target = ContactFactory(), ContactFactory()
    OrderFactory(customer=source)

    response = staff_client.post(merge_url(source.pk), {"into": target.pk}, format="json")

    assert response.status_code == 200
    assert response.json()["id"] == target.pk
    assert response.json()["order_count"] == 1
    assert Order.objects.get().customer_id == target.pk


def test_a_merged_contact_is_still_reachable_by_id(staff_client, agent_client):
    source, target = ContactFactory(), ContactFactory()
    staff_client.post(merge_url(source.pk), {"into": target.pk}, format="json")

    assert agent_client.get(f"/api/v1/contacts/{source.pk}/").status_code == 200
    listed = [row["id"] for row in agent_client.get("/api/v1/contacts/").json()["results"]]
    assert listed == [target.pk]


def test_contacts_that_both_hold_a_conversation_opened_with_one_client_id_are_refused_not_a_500(staff_client):
    source, target = ContactFactory(), ContactFactory()
    ConversationFactory(contact=source, client_id="ticket-1")
    ConversationFactory(contact=target, client_id="ticket-1")
    before = counts(source), counts(target)

    response = staff_client.post(merge_url(source.pk), {"into": target.pk}, format="json")

    assert (response.status_code, response.json()["error"]["code"]) == (409, "merge_conflict")
    source.refresh_from_db()
    assert source.merged_into_id is None and (counts(source), counts(target)) == before


@pytest.mark.parametrize("who", ["agent", "staff without the supervisor permission"])
def test_only_a_supervisor_merges_agents_and_staff_get_403_and_nothing_changes(agent_client, api_client, who):
    source, target = ContactFactory(), ContactFactory()
    client = agent_client
    if who != "agent":
        client = api_client
        client.force_authenticate(UserFactory(is_staff=True))

    response = client.post(merge_url(source.pk), {"into": target.pk}, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["message"]
    source.refresh_from_db()
    assert source.merged_into_id is None


def test_an_anonymous_caller_gets_401(api_client):
    source, target = ContactFactory(), ContactFactory()

    response = api_client.post(merge_url(source.pk), {"into": target.pk}, format="json")

    assert response.status_code == 401


@pytest.mark.parametrize(("body", "status", "code"), [
    ({}, 400, "invalid"),
    ({"into": "abc"}, 400, "invalid"),
    ({"into": 0}, 400, "invalid"),
    ({"into": "missing"}, 400, "invalid"),
    ({"into": "self"}, 400, "merge_into_self"),
    ({"into": "courier"}, 400, "merge_kind_mismatch"),
    ({"into": "merged"}, 409, "target_merged"),
    ({"into": "target", "keep": "both"}, 400, "invalid"),
])
def test_bad_merge_requests_are_answered_in_the_error_shape(staff_client, body, status, code):
    source, target, courier = ContactFactory(), ContactFactory(), CourierFactory()
    merged = ContactFactory()
    contact_merge(source=merged, target=target)
    named = {"missing": 10**9, "self": source.pk, "courier": courier.pk, "merged": merged.pk,
             "target": target.pk}
    if body.get("into") in named:
        body = {**body, "into": named[body["into"]]}

    response = staff_client.post(merge_url(source.pk), body, format="json")

    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_merging_a_contact_already_merged_is_409(staff_client):
    source, target, other = ContactFactory(), ContactFactory(), ContactFactory()
    contact_merge(source=source, target=target)

    response = staff_client.post(merge_url(source.pk), {"into": other.pk}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_merged"


def test_merging_an_unknown_contact_is_404(staff_client):
    target = ContactFactory()

    response = staff_client.post(merge_url(10**9), {"into": target.pk}, format="json")

    assert response.status_code == 404


def test_the_merge_is_in_the_openapi_schema(agent_client):
    schema = agent_client.get("/api/schema/", {"format": "json"}).json()

    operation = schema["paths"]["/api/v1/contacts/{id}/merge/"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body.endswith("/ContactMergeInputRequest")  # request bodies have their own components
    assert "200" in operation["responses"]


@pytest.mark.parametrize("path", ["one event", "a batch"])
def test_what_the_oms_says_later_about_the_merged_id_lands_on_the_target(path):
    from timeline.services import MirroredContact, MirroredEvent, MirroredOrder, contact_upsert, mirror_batch

    source = ContactFactory(external_id="C-OLD", name="")
    target = ContactFactory(external_id="C-NEW", name="Ana")
    contact_merge(source=source, target=target)
    later = timezone.now()

    if path == "one event":
        contact_upsert(kind="customer", external_id="C-OLD", fields={"phone": "+34 600 000 001"},
                       occurred_at=later)
    else:
        mirror_batch(batch=[MirroredEvent(
            source_event_id="evt-after-merge", occurred_at=later,
            contacts=[MirroredContact(kind="customer", external_id="C-OLD", fields={"phone": "+34 600 000 001"})],
            order=MirroredOrder(external_id="O-AFTER", fields={"total": Decimal("12.00")},
                                parties={"customer": ("customer", "C-OLD")}))])

    target.refresh_from_db()
    source.refresh_from_db()
    assert target.phone == "+34 600 000 001" and source.phone != "+34 600 000 001"
    if path == "a batch":
        assert Order.objects.get(external_id="O-AFTER").customer_id == target.pk
