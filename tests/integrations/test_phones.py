"""One person, one contact: a caller's or a WhatsApp writer's number (E.164) finds the contact the
OMS knows with that number however it was written, and never a contact merged away."""

from __future__ import annotations

import pytest

from integrations.phones import contact_for_phone, e164
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
