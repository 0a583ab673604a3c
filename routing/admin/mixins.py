"""What the routing admins share: the audit of every save and delete, deletes guarded
while an object is in use."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from django.forms import BaseFormSet, ModelForm
from django.http import HttpRequest

from routing.audit import audit_record, routing_snapshot


class RoutingAuditMixin:
    """Audits each save and delete of the model through the admin, including the list's
    inline edits and the delete action; `routing_saved` is the hook for what must follow."""

    def save_model(self, request: HttpRequest, obj: models.Model, form: ModelForm, change: bool) -> None:
        # The form has already written the new values onto `obj`: read the old ones back.
        obj._routing_before = routing_snapshot(type(obj)._default_manager.get(pk=obj.pk)) if change else None
        # The form rather than obj.save(): a form may write only the fields it edits
        # (AgentProfileForm does). `obj` is the form's instance.
        form.save()

    def save_related(self, request: HttpRequest, form: ModelForm, formsets: list[BaseFormSet],
                     change: bool) -> None:
        super().save_related(request, form, formsets, change)
        obj = form.instance
        self.routing_saved(obj, formsets=formsets, change=change)
        audit_record(actor=request.user, obj=obj, instance_before=obj._routing_before,
                     instance_after=routing_snapshot(obj))

    def routing_saved(self, obj: Any, *, formsets: list[BaseFormSet], change: bool) -> None:
        """After the object and its inlines are saved, before the audit reads them."""

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
