"""Contact search: accents, partial input, phone, email, ids, orders, ranking, kinds, errors."""

from __future__ import annotations

import pytest

from supportdesk.errors import DomainError
from tests.factories import ContactFactory, CourierFactory, OrderFactory, PartnerFactory
from timeline.search import contact_search

pytestmark = pytest.mark.django_db

SEARCH = "/api/v1/contacts/search/"


def found(query: str, **kwargs) -> list[tuple[int, str]]:
    return [(hit.contact.pk, hit.match) for hit in contact_search(query=query, **kwargs)]


def found_ids(query: str, **kwargs) -> list[int]:
    return [pk for pk, _ in found(query, **kwargs)]


# --- What finds a contact --------------------------------------------------------------------


@pytest.mark.parametrize("query", ["lucia fern", "LUCÍA FERNÁNDEZ", "fernandez", "Lucia  Fernandez"])
def test_a_name_is_found_whatever_its_accents_case_and_completeness(query):
    # given a contact with an accented name, and someone else
    lucia = ContactFactory(name="Lucía Fernández")
    ContactFactory(name="Pedro Gómez")

    # when searching
    hits = found(query)

    # then she is found by her name, and only she
    assert hits == [(lucia.pk, "name")]


def test_a_name_with_a_typo_is_still_found():
    # given a contact
    lucia = ContactFactory(name="Lucía Fernández")

    # when the name is typed with a mistake
    hits = found("lucia fernandes")

    # then she is found, by similarity
    assert hits == [(lucia.pk, "name")]


@pytest.mark.parametrize("query", ["+34 612", "612 345 678", "34612345678", "345678"])
def test_a_phone_is_found_by_its_digits_whatever_the_formatting(query):
    # given a contact with a phone number
    contact = ContactFactory(phone="+34 612-345-678")
    ContactFactory(phone="+44 7700 900123")

    # when searching for part of it, formatted some other way
    hits = found(query)

    # then the contact is found by phone
    assert hits == [(contact.pk, "phone")]


def test_part_of_an_email_finds_the_contact():
    # given a contact
    contact = ContactFactory(email="lucia.fdez@mail.es")
    ContactFactory(email="pedro@example.com")

    # when searching for part of the email
    hits = found("fdez@mail")

    # then the contact is found by email
    assert hits == [(contact.pk, "email")]


def test_an_exact_external_id_finds_the_contact_in_any_case():
    # given a contact with an OMS id
    contact = ContactFactory(external_id="CUS-98765")

    # when searching for it in lower case
    hits = found("cus-98765")

    # then the contact is found by external id
    assert hits == [(contact.pk, "external_id")]


def test_an_order_id_finds_its_customer_courier_and_partner():
    # given an order with its three parties, and another order
    order = OrderFactory(external_id="ORD-2024-001", courier=CourierFactory(), partner=PartnerFactory())
    OrderFactory(external_id="ORD-2024-002")

    # when searching for the order id
    hits = found("ord-2024-001")

    # then exactly its three parties are found, by order
    assert sorted(hits) == sorted(
        [(order.customer_id, "order"), (order.courier_id, "order"), (order.partner_id, "order")]
    )


# --- Ranking ---------------------------------------------------------------------------------


def test_exact_ids_and_emails_come_before_names_and_word_starts_before_inner_parts():
    # given contacts matching "martin" in different ways
    inner = ContactFactory(name="Ana Desmartins", email="a@example.com")  # inside a word
    word_start = ContactFactory(name="Martina López", email="m@example.com")
    by_email = ContactFactory(name="Zed", email="martin")  # an email equal to the query
    by_id = ContactFactory(external_id="MARTIN", name="Nobody")

    # when searching "martin"
    hits = found_ids("martin")

    # then: exact external id, exact email, a word starting with it, then a part inside a word
    assert hits[:3] == [by_id.pk, by_email.pk, word_start.pk]
    assert inner.pk in hits[3:]


def test_an_exact_email_comes_before_longer_emails_containing_it():
    # given one contact whose email is the query and others containing it
    longer = ContactFactory(email="ana@mail.es.example.com")
    exact = ContactFactory(email="ana@mail.es")

    # when searching the email
    hits = found_ids("ana@mail.es")

    # then the exact one comes first
    assert hits == [exact.pk, longer.pk]


def test_the_closer_name_comes_first_among_name_matches():
    # given two names starting with the query words, one of them much longer
    longer = ContactFactory(name="Lucía Fernández de la Vega Castellanos")
    closer = ContactFactory(name="Lucía Fernández")

    # when searching the name
    hits = found_ids("lucia fernandez")

    # then the closer name comes first
    assert hits == [closer.pk, longer.pk]


# --- Scope -------------------------------------------------------------------------------------


def test_kind_limits_the_results_to_that_kind():
    # given a customer and a courier with the same name
    ContactFactory(name="Jorge Ruiz")
    courier = CourierFactory(name="Jorge Ruiz")

    # when searching couriers only
    hits = found_ids("jorge ruiz", kind="courier")

    # then only the courier is found
    assert hits == [courier.pk]


def test_a_merged_contact_is_never_found():
    # given a contact merged into another, both named alike
    kept = ContactFactory(name="Lucía Fernández")
    merged = ContactFactory(name="Lucía Fernández", merged_into=kept, external_id="OLD-1")
    OrderFactory(external_id="ORD-9", customer=merged)

    # when searching by name, by its external id and by its order
    # then only the contact kept is found, and the merged one by no way at all
    assert found_ids("lucia fernandez") == [kept.pk]
    assert found_ids("OLD-1") == []
    assert found_ids("ORD-9") == []


def test_the_limit_caps_the_results():
    # given many matching contacts
    ContactFactory.create_batch(5, name="Ana Pérez")

    # when asking for 3
    # then 3 come back
    assert len(found_ids("ana perez", limit=3)) == 3


# --- Bad queries -------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "code"), [("", "query_too_short"), (" a ", "query_too_short"),
                                             ("x" * 101, "query_too_long")])
def test_too_short_or_too_long_a_query_is_refused(query, code):
    with pytest.raises(DomainError) as refused:
        contact_search(query=query)

    assert refused.value.code == code


def test_wildcards_in_the_query_are_taken_literally():
    # given a contact, and a query that would match everything if % were a wildcard
    ContactFactory(name="Ana Pérez", email="ana@example.com")

    # when searching "%%%"
    # then nothing is found
    assert found_ids("%%%") == []
    assert found_ids("a_a") == []


# --- The API -----------------------------------------------------------------------------------


def test_the_api_returns_ranked_hits_with_what_matched(agent_client):
    # given a contact
    lucia = ContactFactory(name="Lucía Fernández", email="lucia@mail.es", phone="+34612345678")

    # when an agent searches
    response = agent_client.get(SEARCH, {"q": "lucia fern"})

    # then the hit comes back, unpaginated, with the field that matched
    assert response.status_code == 200
    assert response.json() == [{
        "id": lucia.pk, "kind": "customer", "external_id": lucia.external_id,
        "name": "Lucía Fernández", "email": "lucia@mail.es", "phone": "+34612345678",
        "match": "name",
    }]


def test_the_api_filters_by_kind_and_returns_at_most_20(agent_client):
    ContactFactory.create_batch(3, name="Ana Pérez")
    couriers = CourierFactory.create_batch(22, name="Ana Pérez")

    response = agent_client.get(SEARCH, {"q": "ana perez", "kind": "courier"})

    assert response.status_code == 200
    rows = response.json()
    assert len(rows) == 20
    assert {row["id"] for row in rows} <= {courier.pk for courier in couriers}


@pytest.mark.parametrize(("params", "code"), [
    ({}, "invalid"),
    ({"q": ""}, "query_too_short"),
    ({"q": "a"}, "query_too_short"),
    ({"q": "x" * 101}, "query_too_long"),
    ({"q": "ana", "kind": "robot"}, "invalid"),
])
def test_bad_queries_are_400_in_the_error_shape(agent_client, params, code):
    response = agent_client.get(SEARCH, params)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]


def test_an_anonymous_caller_cannot_search(api_client):
    ContactFactory(name="Lucía Fernández")

    response = api_client.get(SEARCH, {"q": "lucia"})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_the_search_is_in_the_openapi_schema(agent_client):
    response = agent_client.get("/api/schema/", {"format": "json"})

    operation = response.json()["paths"]["/api/v1/contacts/search/"]["get"]
    assert {parameter["name"] for parameter in operation["parameters"]} == {"q", "kind"}
