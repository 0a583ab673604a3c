"""Merging two contacts that are the same person."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext

from supportdesk.actors import user_actor
from supportdesk.errors import Conflict, DomainError, NotFound
from timeline import events
from timeline.locks import rows_lock
from timeline.models import Contact, ContactKind, Order
from timeline.services.fields import is_blank
from timeline.services.ratings import contacts_ratings_refresh
from timeline.services.totals import customers_totals_refresh

# --- Merging two contacts that are the same person --------------------------------------------

# The fields a merge fills on the contact kept when it has no value of its own.
_MERGE_FILLED_FIELDS = (
    "name", "email", "phone", "preferred_language", "country", "credit_balance", "tier",
    "vehicle", "courier_status", "current_order", "store_name", "store_category",
)


def _contact_references() -> list[models.ForeignObjectRel]:
    """Every foreign key pointing at Contact, from any app, found through the model registry
    so this layer never imports the apps above it (conversations, ...)."""
    relations = [
        field for field in Contact._meta.get_fields(include_hidden=True)
        if field.auto_created and not field.concrete
    ]
    unsupported = [relation for relation in relations if relation.many_to_many]
    if unsupported:
        # A many-to-many needs duplicates handled; refuse rather than silently lose links.
        raise NotImplementedError(f"contact_merge cannot move {unsupported}.")
    return relations


def contact_merge(
    *, source: Contact, target: Contact, merged_by: AbstractBaseUser | None = None
) -> Contact:
    """Merge `source` into `target`, the same person known twice: everything pointing at the
    source (timeline events, orders as customer, courier or partner, conversations, contacts
    merged into it earlier, ...) moves to the target, the target's empty fields are filled
    from the source, and the source is kept, marked merged, out of search and lists. The
    merge is recorded on the target's timeline. Returns the target as saved."""
    if source.pk == target.pk:
        raise DomainError("into: A contact cannot be merged into itself.", code="merge_into_self",
                          details={"into": ["A contact cannot be merged into itself."]})
    now = timezone.now()
    with transaction.atomic():
        # Everything the merge re-points, locked up front in the one order (timeline.locks):
        # both contacts, those merged into the source earlier, then the source's orders.
        source_orders = Order.objects.filter(
            models.Q(customer=source.pk) | models.Q(courier=source.pk) | models.Q(partner=source.pk))
        locked, _orders = rows_lock(contact_ids=[source.pk, target.pk], merged_into=[source.pk],
                                    order_ids=source_orders.values_list("pk", flat=True))
        if source.pk not in locked or target.pk not in locked:
            raise NotFound("The contact to merge, or the one to merge into, no longer exists.")
        source, target = locked[source.pk], locked[target.pk]
        _merge_check(source=source, target=target)
        moved = {}
        try:
            with transaction.atomic():
                for relation in _contact_references():
                    field = relation.field
                    # The base manager is a plain one: TimelineEvent's own queryset refuses update()
                    # because events are append-only. Re-pointing the contact column is the one
                    # exception: each event stays exactly as written, only whose timeline it is on
                    # follows the person.
                    moved[f"{relation.related_model._meta.label_lower}.{field.name}"] = (
                        relation.related_model._base_manager.filter(**{field.name: source.pk})
                        .update(**{field.attname: target.pk})
                    )
        except IntegrityError as exc:
            # Something unique per contact (a conversation's client id) is on both of them.
            raise Conflict(gettext("These contacts cannot be merged: both hold a record that must stay "
                                   "unique per contact (%(detail)s).") % {"detail": str(exc).splitlines()[0]},
                           code="merge_conflict") from exc
        filled = _merge_fill(source=source, target=target)
        target.save()
        source.merged_into = target
        source.save(update_fields=["merged_into", "updated_at"])
        if target.kind == ContactKind.CUSTOMER:
            customers_totals_refresh(customer_ids=[source.pk, target.pk])
            target.refresh_from_db(fields=["lifetime_order_value", "order_count"])
        # The ratings moved with the timeline events: both contacts' figures follow them.
        contacts_ratings_refresh(contact_ids=[source.pk, target.pk], now=now)
        target.refresh_from_db(fields=["last_rating", "last_rated_at", "rating_avg_90d", "rating_count"])
        events.contact_merged_event(
            contact=target, source=source, moved=moved, filled=filled, occurred_at=now,
            actor=user_actor(merged_by),
        )
    return target


def _merge_check(*, source: Contact, target: Contact) -> None:
    if source.kind != target.kind:
        raise DomainError(
            f"into: A {source.kind} cannot be merged into a {target.kind}.",
            code="merge_kind_mismatch",
            details={"into": [f"A {source.kind} cannot be merged into a {target.kind}."]},
        )
    if source.merged_into_id is not None:
        raise Conflict(
            f"Contact {source.pk} was already merged into contact {source.merged_into_id}.",
            code="already_merged",
        )
    if target.merged_into_id is not None:
        raise Conflict(
            f"into: Contact {target.pk} was merged into contact {target.merged_into_id}; "
            "merge into that one instead.",
            code="target_merged",
            details={"into": [f"Merged into contact {target.merged_into_id}."]},
        )


def _merge_fill(*, source: Contact, target: Contact) -> list[str]:
    """Fill the target's empty fields from the source (with the source's field versions, so
    the OMS's ordering of changes still holds); return the names of the fields filled."""
    filled = [
        name for name in _MERGE_FILLED_FIELDS
        if is_blank(_field_value(target, name)) and not is_blank(_field_value(source, name))
    ]
    for name in filled:
        setattr(target, name, getattr(source, name))
    new_attributes = {**source.attributes, **target.attributes}
    if new_attributes != target.attributes:
        target.attributes = new_attributes
        filled.append("attributes")
    new_tags = [*target.tags, *(tag for tag in source.tags if tag not in target.tags)]
    if new_tags != target.tags:
        target.tags = new_tags
        filled.append("tags")
    target.field_versions = {
        **target.field_versions,
        **{name: source.field_versions[name] for name in filled if name in source.field_versions},
    }
    return filled


def _field_value(contact: Contact, name: str) -> Any:
    # Relations by id, so checking for a value costs no query.
    return contact.current_order_id if name == "current_order" else getattr(contact, name)
