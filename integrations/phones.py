"""Phone numbers, shared by the providers that know a contact by one (WhatsApp, voice): a number
as E.164, and the contact it belongs to, so a person who writes on WhatsApp and calls is one
contact."""

from __future__ import annotations

from typing import Any

import phonenumbers
from django.db.models import CharField, F, Func, Q, Value
from django.utils import timezone

from timeline.models import Contact, ContactKind
from timeline.services.contacts import contact_upsert


def e164(number: str) -> str | None:
    """A WhatsApp id (the number's digits) or any written number as E.164, or None."""
    try:
        parsed = phonenumbers.parse(number if number.startswith("+") else "+" + number, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# A stored number's digits, whatever way it was written ("+34 600 11 12 22", "0034-600111222"...):
# the expression of the contacts' phone search index (timeline, migration 0002_search), so a
# lookup by it is an index scan.
_DIGITS = Func(F("phone"), Value("[^0-9]"), Value(""), Value("g"), function="regexp_replace",
               output_field=CharField())


def _same_number(phone: str) -> list[tuple[int, str]]:
    """(id, kind) of the contacts (not merged away) whose number is this E.164 one however it was
    written: with its country code, or without it (nationally) by a contact of that country."""
    parsed = phonenumbers.parse(phone, None)
    international = phone.lstrip("+")
    national = str(parsed.national_number)
    region = phonenumbers.region_code_for_number(parsed) or ""
    contacts = Contact.objects.annotate(digits=_DIGITS).filter(merged_into__isnull=True)
    found = list(contacts.filter(Q(digits=international) | Q(digits="00" + international))
                 .order_by("pk").values_list("pk", "kind")[:20])
    if found or not region:
        return found
    nationally = Q(digits=national) | Q(digits="0" + national)  # with a trunk prefix, as many countries write it
    return list(contacts.filter(nationally, Q(country="") | Q(country__iexact=region))
                .order_by("pk").values_list("pk", "kind")[:20])


def contact_for_phone(phone: str, *, name: str = "", source: str) -> Contact:
    """The contact with this E.164 number, however their number was written (a customer before a
    courier or a partner, the oldest first), or a new customer with it, known to `source` (its
    external id: "<source>:<phone>")."""
    contacts = _same_number(phone)
    if contacts:
        chosen = next((pk for pk, kind in contacts if kind == ContactKind.CUSTOMER), contacts[0][0])
        return Contact.objects.get(pk=chosen)
    fields: dict[str, Any] = {"phone": phone}
    if name.strip():
        fields["name"] = name.strip()[:200]
    return contact_upsert(kind=ContactKind.CUSTOMER, external_id=f"{source}:{phone}", fields=fields,
                          occurred_at=timezone.now(), actor=source)
