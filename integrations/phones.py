"""Phone numbers, shared by the providers that know a contact by one (WhatsApp, voice): a number
as E.164, and the contact it belongs to, so a person who writes on WhatsApp and calls is one
contact."""

from __future__ import annotations

from typing import Any

import phonenumbers
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


def contact_for_phone(phone: str, *, name: str = "", source: str) -> Contact:
    """The contact with this E.164 number (a customer before a courier or a partner, the oldest
    first), or a new customer with it, known to `source` (its external id: "<source>:<phone>")."""
    contacts = list(Contact.objects.filter(phone=phone).order_by("pk").values_list("pk", "kind")[:20])
    if contacts:
        chosen = next((pk for pk, kind in contacts if kind == ContactKind.CUSTOMER), contacts[0][0])
        return Contact.objects.get(pk=chosen)
    fields: dict[str, Any] = {"phone": phone}
    if name.strip():
        fields["name"] = name.strip()[:200]
    return contact_upsert(kind=ContactKind.CUSTOMER, external_id=f"{source}:{phone}", fields=fields,
                          occurred_at=timezone.now(), actor=source)
