"""One person, one contact: a caller's or a WhatsApp writer's number (E.164) finds the contact the
OMS knows with that number however it was written, and never a contact merged away."""

from __future__ import annotations

import pytest

from integrations.phones import contact_for_phone, contacts_for_phones, e164
from tests.factories import ContactFactory, CourierFactory
from timeline.models import Contact

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("written", ["+34 600 11 12 22", "+34-600-111-222", "0034 600111222", "(+34) 600.111.222"])
def test_a_number_written_with_its_country_code_in_any_way_is_the_same_contact(written):
    known = ContactFactory(phone=written, country="")
    assert contact_for_phone("+34600111222", source="voice").pk == known.pk


def test_a_number_written_nationally_is_the_contact_of_that_country():
    spanish = ContactFactory(phone="600 111 222", country="ES")
    ContactFactory(phone="600 111 222", country="PT")  # the same digits in another country: not them
    assert contact_for_phone("+34600111222", source="voice").pk == spanish.pk
    korean = ContactFactory(phone="010-1234-5678", country="KR")  # a trunk 0, as Koreans write it
    assert contact_for_phone(e164("+82 10-1234-5678"), source="voice").pk == korean.pk


def test_a_customer_comes_before_a_courier_with_the_same_number():
    CourierFactory(phone="+34600111222")
    customer = ContactFactory(phone="+34 600 111 222")
    assert contact_for_phone("+34600111222", source="whatsapp").pk == customer.pk


def test_a_contact_merged_away_is_never_found_and_a_stranger_is_a_new_customer():
    into = ContactFactory(phone="")
    ContactFactory(phone="+34600111222", merged_into=into)
    created = contact_for_phone("+34600111222", name="Ana", source="voice")
    assert (created.external_id, created.name, created.phone) == ("voice:+34600111222", "Ana", "+34600111222")
    assert Contact.objects.filter(phone="+34600111222").count() == 2


def test_many_numbers_at_once_find_the_same_contacts_as_one_by_one():
    spaced = ContactFactory(phone="+34 600 11 12 22", country="")
    spanish = ContactFactory(phone="600 333 444", country="es")  # nationally, its country in any case
    ContactFactory(phone="600 333 444", country="PT")
    CourierFactory(phone="0034600555666")
    customer = ContactFactory(phone="+34-600-555-666")
    korean = ContactFactory(phone="010-1234-5678", country="KR")
    numbers = {"+34600111222": "", "+34600333444": "", "+34600555666": "", e164("+82 10-1234-5678"): "",
               "+34600777888": "Ana"}

    found = contacts_for_phones(numbers, source="whatsapp")

    assert {phone: contact.pk for phone, contact in found.items() if phone != "+34600777888"} == {
        "+34600111222": spaced.pk, "+34600333444": spanish.pk, "+34600555666": customer.pk,
        e164("+82 10-1234-5678"): korean.pk}
    created = found["+34600777888"]
    assert (created.external_id, created.name, created.phone) == ("whatsapp:+34600777888", "Ana", "+34600777888")
    for phone, contact in found.items():
        assert contact_for_phone(phone, source="whatsapp").pk == contact.pk


def test_a_number_shared_nationally_by_two_countries_finds_each_its_own():
    spanish = ContactFactory(phone="600 111 222", country="ES")
    portuguese = ContactFactory(phone="600 111 222", country="PT")

    found = contacts_for_phones({"+34600111222": "", "+351600111222": ""}, source="voice")

    assert (found["+34600111222"].pk, found["+351600111222"].pk) == (spanish.pk, portuguese.pk)


def test_looking_up_many_numbers_takes_the_queries_of_one(django_assert_max_num_queries):
    for number in range(10):
        ContactFactory(phone=f"+34 600 000 00{number}")
    ContactFactory(phone="600 999 999", country="ES")
    numbers = {f"+3460000000{number}": "" for number in range(10)} | {"+34600999999": ""}

    with django_assert_max_num_queries(3):  # with the country code, nationally (the one left), the rows
        found = contacts_for_phones(numbers, source="voice")

    assert {contact.phone for contact in found.values()} == {f"+34 600 000 00{n}" for n in range(10)} | {
        "600 999 999"}
