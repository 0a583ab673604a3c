"""Phone numbers, shared by the providers that know a contact by one (WhatsApp, voice): a number
as E.164, and the contact it belongs to, so a person who writes on WhatsApp and calls is one
contact."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import phonenumbers
from django.utils import timezone

from timeline.locks import rows_lock
from timeline.models import PHONE_DIGITS, Contact, ContactKind
from timeline.services import MirroredContact, MirroredEvent, mirror_batch


def e164(number: str) -> str | None:
    """A WhatsApp id (the number's digits) or any written number as E.164, or None."""
    try:
        parsed = phonenumbers.parse(number if number.startswith("+") else "+" + number, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


SAME_NUMBER_LIMIT = 20  # contacts considered a number (one person rarely has more)


def _same_numbers(phones: Iterable[str]) -> dict[str, list[tuple[int, str]]]:
    """For each E.164 number, (id, kind) of the contacts (not merged away) whose number it is
    however it was written: with its country code, or, when none has it so, without it
    (nationally) by a contact of that country or of none; the oldest first. Two queries for any
    number of numbers (the second only for those the first did not find)."""
    phones = list(dict.fromkeys(phones))
    # Through the index contact_phone_digits (its expression and its condition).
    contacts = Contact.objects.annotate(digits=PHONE_DIGITS).filter(merged_into__isnull=True).exclude(phone="")
    found: dict[str, list[tuple[int, str]]] = {phone: [] for phone in phones}
    international = {}
    for phone in phones:
        international[phone.lstrip("+")] = phone
        international["00" + phone.lstrip("+")] = phone
    for pk, kind, digits in (contacts.filter(digits__in=list(international)).order_by("pk")
                             .values_list("pk", "kind", "digits")):
        found[international[digits]].append((pk, kind))
    national: dict[str, list[tuple[str, str]]] = {}  # digits -> (number, its region): +34 and +351 may share some
    for phone in phones:
        parsed = phonenumbers.parse(phone, None)
        region = phonenumbers.region_code_for_number(parsed) or ""
        if found[phone] or not region:
            continue
        for digits in (str(parsed.national_number), "0" + str(parsed.national_number)):  # with a trunk prefix too
            national.setdefault(digits, []).append((phone, region.upper()))
    if national:
        for pk, kind, digits, country in (contacts.filter(digits__in=list(national)).order_by("pk")
                                          .values_list("pk", "kind", "digits", "country")):
            for phone, region in national[digits]:
                if not country or country.upper() == region:
                    found[phone].append((pk, kind))
    return {phone: sorted(matches)[:SAME_NUMBER_LIMIT] for phone, matches in found.items()}


def contact_for_phone(phone: str, *, name: str = "", source: str) -> Contact:
    """The contact with this E.164 number, however their number was written (a customer before a
    courier or a partner, the oldest first), or a new customer with it, known to `source` (its
    external id: "<source>:<phone>")."""
    return contacts_for_phones({phone: name}, source=source)[phone]


def contacts_for_phones(names: Mapping[str, str], *, source: str, lock: bool = False) -> dict[str, Contact]:
    """`contact_for_phone` for many numbers at once: {E.164 number: the name a new contact of it
    gets} to {number: contact}, in a few queries and one batch of new contacts however many there
    are. With `lock`, every contact returned is locked for the transaction, in the one lock order
    (timeline.locks): the ones found first, then the new ones (newer, so of higher ids)."""
    if not names:
        return {}
    chosen = {phone: next((pk for pk, kind in matches if kind == ContactKind.CUSTOMER), matches[0][0])
              for phone, matches in _same_numbers(names).items() if matches}
    if not chosen:
        loaded: dict[int, Contact] = {}
    elif lock:
        loaded, _orders = rows_lock(contact_ids=chosen.values())
    else:
        loaded = Contact.objects.in_bulk(set(chosen.values()))
    contacts = {phone: loaded[pk] for phone, pk in chosen.items()}
    missing = [phone for phone in names if phone not in chosen]
    if missing:
        now = timezone.now()
        created = mirror_batch(batch=[MirroredEvent(
            source_event_id=None, occurred_at=now, order=None,
            contacts=[MirroredContact(kind=ContactKind.CUSTOMER, external_id=f"{source}:{phone}",
                                      fields=_new_contact_fields(phone, names[phone]))],
        ) for phone in missing], actor=source)
        contacts.update({phone: created.contacts[(ContactKind.CUSTOMER, f"{source}:{phone}")]
                         for phone in missing})
    return contacts


def _new_contact_fields(phone: str, name: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"phone": phone}
    if name.strip():
        fields["name"] = name.strip()[:200]
    return fields
