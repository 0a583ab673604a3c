"""REST API v1 for contacts and orders: auth, search, filters, cursor pages, writes, errors."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import ContactFactory, CourierFactory, OrderFactory, PartnerFactory
from timeline import services
from timeline.events import EventKind
from timeline.models import Contact, OrderStatus, OrderStatusChange, TimelineEvent

pytestmark = pytest.mark.django_db

CONTACTS = "/api/v1/contacts/"
ORDERS = "/api/v1/orders/"


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


# --- Authentication -----------------------------------------------------------------------


@pytest.mark.parametrize("url", [CONTACTS, ORDERS])
def test_an_anonymous_caller_gets_401_in_the_error_shape(api_client, url):
    response = api_client.get(url)

    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "not_authenticated"
    assert error["message"]


def test_a_token_authenticates_the_caller(api_client, agent):
    contact = ContactFactory()
    token = Token.objects.create(user=agent)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    response = api_client.get(CONTACTS)

    assert response.status_code == 200
    assert ids(response) == [contact.pk]


def test_an_unknown_token_is_refused_in_the_error_shape(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = api_client.get(CONTACTS)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


# --- Contacts: search, filters, pages ------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "term"),
    [
        ("name", "Lucía Fernández", "fernández"),
        ("email", "lucia.f@example.org", "lucia.f@"),
        ("phone", "+34611222333", "611222333"),
        ("external_id", "CUST-98765", "CUST-98765"),
    ],
)
def test_search_finds_contacts_by_name_email_phone_and_external_id(
    agent_client, field, value, term
):
    wanted = ContactFactory(**{field: value})
    ContactFactory(name="Someone Else")

    response = agent_client.get(CONTACTS, {"search": term})

    assert response.status_code == 200
    assert ids(response) == [wanted.pk]


@pytest.mark.parametrize(
    ("params", "wanted_attrs", "other_attrs"),
    [
        ({"kind": "partner"}, {"kind": "partner"}, {"kind": "customer"}),
        ({"preferred_language": "de"}, {"preferred_language": "de"}, {"preferred_language": "es"}),
        ({"country": "PT"}, {"country": "PT"}, {"country": "ES"}),
        ({"tier": "vip"}, {"tier": "vip"}, {"tier": "gold"}),
        ({"courier_status": "idle"}, {"courier_status": "idle"}, {"courier_status": "active"}),
        ({"tag": "vip"}, {"tags": ["late", "vip"]}, {"tags": ["vipish", "late"]}),
    ],
)
def test_contact_filters_keep_only_matching_contacts(
    agent_client, params, wanted_attrs, other_attrs
):
    wanted = ContactFactory(**wanted_attrs)
    ContactFactory(**other_attrs)

    response = agent_client.get(CONTACTS, params)

    assert response.status_code == 200
    assert ids(response) == [wanted.pk]


def test_an_invalid_filter_value_is_a_400_naming_the_filter(agent_client):
    response = agent_client.get(CONTACTS, {"kind": "robot"})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "kind" in error["details"]


def test_contacts_come_newest_first_in_cursor_pages_that_new_contacts_do_not_shift(agent_client):
    oldest, middle, newest = ContactFactory(), ContactFactory(), ContactFactory()

    first = agent_client.get(CONTACTS, {"page_size": 2})
    ContactFactory()  # arrives while the agent reads page one
    second = agent_client.get(first.json()["next"])

    assert ids(first) == [newest.pk, middle.pk]
    assert first.json()["next"].startswith("http://testserver/api/v1/contacts/?cursor=")
    assert ids(second) == [oldest.pk]
    assert second.json()["next"] is None


def test_a_contact_shows_the_fields_of_its_kind(agent_client):
    courier = CourierFactory(vehicle="scooter", courier_status="active")
    order = OrderFactory(courier=courier)
    Contact.objects.filter(pk=courier.pk).update(current_order=order)
    customer = order.customer
    OrderFactory(customer=customer, total=Decimal("10.00"))
    services.customer_totals_refresh(customer_id=customer.pk)
    partner = PartnerFactory(store_name="Casa Pepe", store_category="restaurant")

    courier_body = agent_client.get(f"{CONTACTS}{courier.pk}/").json()
    customer_body = agent_client.get(f"{CONTACTS}{customer.pk}/").json()
    partner_body = agent_client.get(f"{CONTACTS}{partner.pk}/").json()

    assert courier_body["kind"] == "courier"
    assert courier_body["vehicle"] == "scooter"
    assert courier_body["courier_status"] == "active"
    assert courier_body["current_order"] == order.external_id
    assert customer_body["lifetime_order_value"] == "35.50"
    assert customer_body["order_count"] == 2
    assert partner_body["store_name"] == "Casa Pepe"
    assert partner_body["store_category"] == "restaurant"


def test_listing_contacts_costs_the_same_queries_for_one_or_many(agent_client):
    def list_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert agent_client.get(CONTACTS).status_code == 200
        return len(queries)

    CourierFactory(current_order=OrderFactory())
    list_queries()  # the caller's permissions are read once, then cached on the user
    one = list_queries()
    for _ in range(4):
        CourierFactory(current_order=OrderFactory())

    assert list_queries() == one


# --- Contacts: writes ----------------------------------------------------------------------


def test_creating_a_contact_stores_it_and_records_it_on_the_timeline(agent_client, agent):
    response = agent_client.post(
        CONTACTS,
        {
            "kind": "courier", "external_id": "R-77", "name": "Ana Ruiz", "phone": "+34600111222",
            "vehicle": "bicycle", "courier_status": "idle", "tags": ["new"],
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    contact = Contact.objects.get(pk=body["id"])
    assert (contact.kind, contact.external_id, contact.vehicle) == ("courier", "R-77", "bicycle")
    assert body["tags"] == ["new"]
    event = TimelineEvent.objects.get(contact=contact)
    assert event.kind == EventKind.CONTACT_CREATED
    assert event.actor == f"user:{agent.pk}"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"external_id": "C-1"}, "kind"),
        ({"kind": "customer"}, "external_id"),
        ({"kind": "customer", "external_id": "C-1", "email": "not-an-email"}, "email"),
        ({"kind": "customer", "external_id": "C-1", "tier": "platinum"}, "tier"),
        ({"kind": "customer", "external_id": "C-1", "lifetime_order_value": "9"},
         "lifetime_order_value"),
        ({"kind": "customer", "external_id": "C-1", "vehicle": "car"}, "vehicle"),
    ],
)
def test_creating_a_contact_with_bad_input_is_a_400_naming_the_field(agent_client, payload, field):
    response = agent_client.post(CONTACTS, payload, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["details"]
    assert error["message"].startswith(f"{field}: ")
    assert not Contact.objects.exists()


def test_creating_a_contact_that_exists_is_a_409(agent_client):
    ContactFactory(kind="customer", external_id="C-1")

    response = agent_client.post(
        CONTACTS, {"kind": "customer", "external_id": "C-1"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert Contact.objects.count() == 1


def test_changing_a_contact_records_what_changed_on_the_timeline(agent_client, agent):
    contact = ContactFactory(name="Old Name", tier="silver")

    response = agent_client.patch(
        f"{CONTACTS}{contact.pk}/", {"name": "New Name", "tier": "silver"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["name"] == "New Name"
    contact.refresh_from_db()
    assert contact.name == "New Name"
    event = TimelineEvent.objects.get(contact=contact)
    assert event.kind == EventKind.CONTACT_UPDATED
    assert event.payload == {"changes": {"name": "New Name"}}
    assert event.actor == f"user:{agent.pk}"


def test_a_hand_edit_is_not_undone_by_an_older_oms_event(agent_client):
    contact = ContactFactory(name="From OMS")
    agent_client.patch(f"{CONTACTS}{contact.pk}/", {"name": "Fixed by agent"}, format="json")

    services.contact_upsert(
        kind=contact.kind, external_id=contact.external_id, fields={"name": "Stale"},
        occurred_at=timezone.now() - timedelta(minutes=5),
    )

    contact.refresh_from_db()
    assert contact.name == "Fixed by agent"


@pytest.mark.parametrize("field", ["lifetime_order_value", "order_count", "kind", "external_id"])
def test_derived_and_identity_fields_cannot_be_changed(agent_client, field):
    contact = ContactFactory(external_id="C-5")

    response = agent_client.patch(f"{CONTACTS}{contact.pk}/", {field: "7"}, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["details"]
    contact.refresh_from_db()
    assert (contact.lifetime_order_value, contact.order_count) == (Decimal("0.00"), 0)
    assert (contact.kind, contact.external_id) == ("customer", "C-5")


def test_a_courier_can_be_given_its_current_order_by_external_id(agent_client):
    courier = CourierFactory()
    order = OrderFactory(external_id="O-42")

    response = agent_client.patch(
        f"{CONTACTS}{courier.pk}/", {"current_order": "O-42"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["current_order"] == "O-42"
    courier.refresh_from_db()
    assert courier.current_order == order


def test_contacts_cannot_be_deleted(agent_client):
    contact = ContactFactory()

    response = agent_client.delete(f"{CONTACTS}{contact.pk}/")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_an_unknown_contact_is_a_404_in_the_error_shape(agent_client):
    response = agent_client.get(f"{CONTACTS}999999/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# --- Orders ----------------------------------------------------------------------------------


def test_orders_are_read_only(agent_client):
    order = OrderFactory()

    created = agent_client.post(ORDERS, {"external_id": "O-NEW"}, format="json")
    changed = agent_client.patch(f"{ORDERS}{order.pk}/", {"status": "delivered"}, format="json")

    assert created.status_code == 405
    assert created.json()["error"]["code"] == "method_not_allowed"
    assert changed.status_code == 405
    order.refresh_from_db()
    assert order.status == OrderStatus.CREATED


def test_an_order_is_found_by_database_id_with_its_status_history_in_order(agent_client):
    order = OrderFactory(status=OrderStatus.IN_DELIVERY)
    start = timezone.now() - timedelta(hours=1)
    # Stored out of order, as webhooks may arrive.
    OrderStatusChange.objects.create(order=order, status="in_delivery",
                                     occurred_at=start + timedelta(minutes=20))
    OrderStatusChange.objects.create(order=order, status="created", occurred_at=start)

    response = agent_client.get(f"{ORDERS}{order.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["external_id"] == order.external_id
    assert body["customer"]["id"] == order.customer_id
    assert [entry["status"] for entry in body["status_history"]] == ["created", "in_delivery"]


def _order_filter_cases():
    now = timezone.now()
    return [
        ({"status": "delivered"}, {"status": "delivered"}, {"status": "created"}),
        ({"is_delayed": "true"}, {"is_delayed": True}, {"is_delayed": False}),
        (
            {"placed_at_after": (now - timedelta(days=2)).isoformat(),
             "placed_at_before": (now - timedelta(days=1)).isoformat()},
            {"placed_at": now - timedelta(days=1, hours=12)},
            {"placed_at": now - timedelta(days=3)},
        ),
    ]


@pytest.mark.parametrize(("params", "wanted_attrs", "other_attrs"), _order_filter_cases())
def test_order_filters_keep_only_matching_orders(agent_client, params, wanted_attrs, other_attrs):
    wanted = OrderFactory(**wanted_attrs)
    OrderFactory(**other_attrs)

    response = agent_client.get(ORDERS, params)

    assert response.status_code == 200
    assert ids(response) == [wanted.pk]


def test_orders_filter_by_customer_id_and_by_customer_external_id(agent_client):
    customer = ContactFactory(external_id="C-123")
    wanted = OrderFactory(customer=customer)
    OrderFactory()

    by_id = agent_client.get(ORDERS, {"customer": customer.pk})
    by_external_id = agent_client.get(ORDERS, {"customer_external_id": "C-123"})

    assert ids(by_id) == [wanted.pk]
    assert ids(by_external_id) == [wanted.pk]


def test_orders_come_in_cursor_pages(agent_client):
    first_order, second_order, third_order = OrderFactory(), OrderFactory(), OrderFactory()

    first = agent_client.get(ORDERS, {"page_size": 2})
    second = agent_client.get(first.json()["next"])

    assert ids(first) == [third_order.pk, second_order.pk]
    assert ids(second) == [first_order.pk]


def test_listing_orders_costs_the_same_queries_for_one_or_many(agent_client):
    def list_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert agent_client.get(ORDERS).status_code == 200
        return len(queries)

    OrderFactory(courier=CourierFactory(), partner=PartnerFactory())
    list_queries()  # the caller's permissions are read once, then cached on the user
    one = list_queries()
    for _ in range(4):
        OrderFactory(courier=CourierFactory(), partner=PartnerFactory())

    assert list_queries() == one


def test_a_session_authenticated_agent_can_read_orders(agent):
    order = OrderFactory()
    client = APIClient()
    client.force_login(agent)

    response = client.get(ORDERS)

    assert response.status_code == 200
    assert ids(response) == [order.pk]


def test_a_mangled_cursor_is_a_400_naming_the_parameter(agent_client):
    response = agent_client.get(CONTACTS, {"cursor": "not-a-cursor"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "cursor" in response.json()["error"]["details"]
