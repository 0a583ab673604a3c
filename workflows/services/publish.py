"""Publishing: every change to a workflow's definition is a new version; enabling and
disabling. The admin (forms, audit log) calls these."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from supportdesk.errors import DomainError, NotFound
from workflows.definitions import SCHEDULE, definition_errors, definition_from, known_kinds
from workflows.models import Workflow, WorkflowVersion
from workflows.services.triggers import listened_kinds_clear


class DefinitionInvalid(DomainError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__(" ".join(errors), code="invalid_workflow")
        self.errors = errors


def workflow_save(*, key: str, name: str, definition: dict[str, Any], description: str = "",
                  user: Any = None) -> tuple[Workflow, WorkflowVersion]:
    """Create the workflow `key` or publish a new version of it. A definition equal to the
    current version's publishes nothing (a form saved twice). Runs under way finish on the
    version they started on. Raises DefinitionInvalid listing every problem."""
    errors = definition_errors(definition, known_kinds=known_kinds())
    if errors:
        raise DefinitionInvalid(errors)
    parsed = definition_from(definition)
    with transaction.atomic():
        workflow, _created = Workflow.objects.select_for_update().get_or_create(
            key=key, defaults={"name": name, "description": description})
        if (workflow.name, workflow.description) != (name, description):
            workflow.name, workflow.description = name, description
            workflow.save(update_fields=["name", "description", "updated_at"])
        current = workflow.current_version
        if current is not None and _same(current, parsed):
            return workflow, current
        number = (current.number if current else 0) + 1
        version = WorkflowVersion(
            workflow=workflow, number=number, trigger=parsed.trigger, trigger_type=parsed.trigger_type,
            event_kinds=parsed.event_kinds, conditions=parsed.conditions, steps=parsed.steps,
            run_key=parsed.run_key, limit_count=parsed.limit_count, limit_days=parsed.limit_days,
            max_depth=parsed.max_depth, created_by=user if getattr(user, "pk", None) else None,
        )
        version.save(force_insert=True)
        workflow.current_version = version
        workflow.next_fire_at = schedule_next(version) if workflow.is_enabled else None
        workflow.save(update_fields=["current_version", "next_fire_at", "updated_at"])
    transaction.on_commit(listened_kinds_clear)
    return workflow, version


def _same(version: WorkflowVersion, parsed: Any) -> bool:
    return (version.trigger, version.conditions or {}, version.steps, version.run_key, version.limit_count,
            version.limit_days, version.max_depth) == (
        parsed.trigger, parsed.conditions, parsed.steps, parsed.run_key, parsed.limit_count,
        parsed.limit_days, parsed.max_depth)


def version_definition(version: WorkflowVersion) -> dict[str, Any]:
    """A version as the definition JSON `workflow_save` takes (for the admin's edit form)."""
    limit = {"count": version.limit_count, "days": version.limit_days} if version.limit_count else None
    return {"trigger": version.trigger, "conditions": version.conditions or {}, "steps": version.steps,
            "run_key": version.run_key, "limit": limit, "max_depth": version.max_depth}


def schedule_next(version: WorkflowVersion, *, after=None):
    """When a schedule version fires next (None for other triggers)."""
    if version.trigger_type != SCHEDULE:
        return None
    from workflows.services.schedules import cron_next  # noqa: PLC0415

    return cron_next(version.trigger, after=after or timezone.now())


def _workflow(workflow_id: int) -> Workflow:
    workflow = (Workflow.objects.select_for_update(of=("self",)).select_related("current_version")
                .filter(pk=workflow_id).first())
    if workflow is None:
        raise NotFound(_("No workflow %(id)s.") % {"id": workflow_id})
    return workflow


def workflow_enable(*, workflow_id: int) -> Workflow:
    """Switch a workflow on (idempotent): its trigger listens from now on."""
    with transaction.atomic():
        workflow = _workflow(workflow_id)
        if workflow.current_version is None:
            raise DomainError(_("Publish a version before enabling the workflow."), code="no_version")
        if not workflow.is_enabled:
            workflow.is_enabled = True
            workflow.next_fire_at = schedule_next(workflow.current_version)
            workflow.save(update_fields=["is_enabled", "next_fire_at", "updated_at"])
    transaction.on_commit(listened_kinds_clear)
    return workflow


def workflow_disable(*, workflow_id: int) -> Workflow:
    """Switch a workflow off (idempotent): nothing new starts; runs under way finish, and its
    armed timers are dropped."""
    with transaction.atomic():
        workflow = _workflow(workflow_id)
        if workflow.is_enabled:
            workflow.is_enabled = False
            workflow.next_fire_at = None
            workflow.save(update_fields=["is_enabled", "next_fire_at", "updated_at"])
            workflow.timers.all().delete()
    transaction.on_commit(listened_kinds_clear)
    return workflow
