"""Contacts: upserted from the OMS, created and changed by people (the API)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from supportdesk.actors import user_actor
from supportdesk.errors import Conflict, DomainError, NotFound
from timeline import events
from timeline.locks import rows_lock
from timeline.models import Contact, ContactKind, Order
from timeline.services.fields import CONTACT_FIELDS, differs, fields_check, is_blank
from timeline.services.mirror import MirroredContact, MirroredEvent, mirror_batch
from timeline.versioning import version_of


def contact_upsert(
    *, kind: str, external_id: str, fields: dict[str, Any], occurred_at: datetime,
    actor: str = "oms",
) -> Contact:
    """Create or update a contact by (kind, external id), locking its row for the transaction.

    What is said about a merged contact's external id lands on the contact it was merged
    into, which is returned. The same path as the OMS's events (`mirror_batch`), so the
    locks are taken in the one order (`timeline.locks`).
    """
    fields_check(fields, CONTACT_FIELDS, "contact")
    fields = dict(fields)
    if isinstance(fields.get("current_order"), Order):
        fields["current_order"] = fields["current_order"].external_id
    result = mirror_batch(batch=[MirroredEvent(
        source_event_id=None, occurred_at=occurred_at, order=None,
        contacts=[MirroredContact(kind=kind, external_id=external_id, fields=fields)],
    )], actor=actor)
    return result.contacts[(kind, external_id)]


# --- Contacts written by people (the API), not mirrored from the OMS ------------------------

# Fields that only mean something for one kind of contact.
_KIND_FIELDS = {
    "credit_balance": ContactKind.CUSTOMER,
    "tier": ContactKind.CUSTOMER,
    "vehicle": ContactKind.COURIER,
    "courier_status": ContactKind.COURIER,
    "current_order": ContactKind.COURIER,
    "store_name": ContactKind.PARTNER,
    "store_category": ContactKind.PARTNER,
}


def _check_contact_fields(*, kind: str, fields: dict[str, Any]) -> None:
    """Refuse unknown fields (a programming error) and another kind's fields (bad input)."""
    fields_check(fields, CONTACT_FIELDS, "contact")
    # A blank value is allowed, so a client may send back the whole representation it read.
    misplaced = {
        name: [f"Only {ContactKind(_KIND_FIELDS[name]).label.lower()}s have this field."]
        for name, value in fields.items()
        if name in _KIND_FIELDS and _KIND_FIELDS[name] != kind and not is_blank(value)
    }
    if misplaced:
        name, messages = next(iter(misplaced.items()))
        raise DomainError(f"{name}: {messages[0]}", details=misplaced)


def _stamp_versions(contact: Contact, names: Iterable[str], occurred_at: datetime) -> None:
    # A person's edit is newer than any OMS event that happened before it, so a late event
    # must not undo it; an OMS event after it still wins (last writer wins, per field).
    version = version_of(occurred_at)
    contact.field_versions = {
        **contact.field_versions,
        **{name: max(version, contact.field_versions.get(name, -1)) for name in names},
    }


def contact_create(
    *, kind: str, external_id: str, fields: dict[str, Any],
    created_by: AbstractBaseUser | None = None,
) -> Contact:
    """Create a contact by hand; (kind, external id) must be new."""
    if kind not in ContactKind.values:
        raise DomainError(
            f"kind: Unknown kind {kind!r}; use one of {', '.join(ContactKind.values)}.",
            details={"kind": [f"Unknown kind {kind!r}."]},
        )
    if not external_id.strip():
        raise DomainError(
            "external_id: A contact needs an external id.",
            details={"external_id": ["This field may not be blank."]},
        )
    _check_contact_fields(kind=kind, fields=fields)
    duplicate = Conflict(
        f"A {kind} with external id {external_id!r} already exists.",
        details={"external_id": [f"A {kind} with this external id already exists."]},
    )
    if Contact.objects.filter(kind=kind, external_id=external_id).exists():
        raise duplicate
    now = timezone.now()
    contact = Contact(kind=kind, external_id=external_id, **fields)
    _stamp_versions(contact, fields, now)
    try:
        with transaction.atomic():
            contact.save(force_insert=True)
            events.contact_created_event(
                contact=contact, occurred_at=now, actor=user_actor(created_by)
            )
    except IntegrityError:
        # Created by someone else (or the OMS) between the check and the insert.
        raise duplicate from None
    return contact


def contact_update(
    *, contact: Contact, fields: dict[str, Any], changed_by: AbstractBaseUser | None = None
) -> Contact:
    """Change a contact's fields by hand, recording what changed on its timeline."""
    _check_contact_fields(kind=contact.kind, fields=fields)
    now = timezone.now()
    with transaction.atomic():
        contact = rows_lock(contact_ids=[contact.pk])[0].get(contact.pk)
        if contact is None:
            raise NotFound("The contact no longer exists.")
        changes = {name: value for name, value in fields.items() if differs(contact, name, value)}
        if not changes:
            return contact
        for name, value in changes.items():
            setattr(contact, name, value)
        _stamp_versions(contact, changes, now)
        contact.save()
        events.contact_updated_event(
            contact=contact, changes=changes, occurred_at=now, actor=user_actor(changed_by)
        )
    return contact
