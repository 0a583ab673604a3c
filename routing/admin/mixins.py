"""What the routing admins share: the audit of every save and delete, deletes guarded
while an object is in use."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from django.forms import BaseFormSet, ModelForm
from django.http import HttpRequest

from routing.audit import audit_record, routing_snapshot


class RoutingAuditMixin:
    """Saves go through the routing services (`routing_save`), which check, write, audit
    and rebuild routing after commit, including the list's inline edits; deletes, and the
    delete action, are audited here. The form has checked what the service checks, so its
    errors were shown on their fields."""

    def save_model(self, request: HttpRequest, obj: models.Model, form: ModelForm, change: bool) -> None:
        # The form has already written the new values onto `obj`: read the old ones back.
        obj._routing_before = routing_snapshot(type(obj)._default_manager.get(pk=obj.pk)) if change else None
        self.routing_save(request, obj, form=form, formsets=None, change=change)

    def save_related(self, request: HttpRequest, form: ModelForm, formsets: list[BaseFormSet],
                     change: bool) -> None:
        super().save_related(request, form, formsets, change)
        self.routing_save(request, form.instance, form=form, formsets=formsets, change=change)

    def routing_save(self, request: HttpRequest, obj: Any, *, form: ModelForm,
                     formsets: list[BaseFormSet] | None, change: bool) -> None:
        """Called with formsets=None before the inlines are saved, then with them after."""
        raise NotImplementedError

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        audit_record(actor=request.user, obj=obj, instance_before=routing_snapshot(obj), instance_after=None)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        with transaction.atomic():
            for obj in queryset:
                audit_record(actor=request.user, obj=obj, instance_before=routing_snapshot(obj),
                             instance_after=None)
            super().delete_queryset(request, queryset)


def names(values: list[str]) -> str:
    return ", ".join(values)


class GuardedDeleteMixin:
    """Deletes one object at a time, and not while `delete_blocked` says it is in use."""

    def delete_blocked(self, obj: Any) -> bool:
        raise NotImplementedError

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and self.delete_blocked(obj):
            return False
        return super().has_delete_permission(request, obj)  # type: ignore[misc]

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)  # type: ignore[misc]
        actions.pop("delete_selected", None)  # the bulk action would skip the check above
        return actions
