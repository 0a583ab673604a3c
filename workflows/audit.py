"""Who changed a workflow, when, with its definition before and after: one writer, one snapshot.

Every supervisor's edit in the admin (a save, which publishes a new version; enabling;
disabling; retrying failed runs) leaves a `WorkflowAudit` row, like routing's
`RoutingAudit` for queues and rules.
"""

from __future__ import annotations

from typing import Any

from workflows.models import Workflow, WorkflowAudit

VERSION_SETTINGS = ("trigger", "conditions", "steps", "run_key", "limit_count", "limit_days", "max_depth")


def workflow_snapshot(workflow: Workflow) -> dict[str, Any]:
    """The workflow's settings and its current version's definition, as JSON."""
    snapshot: dict[str, Any] = {"key": workflow.key, "name": workflow.name, "description": workflow.description,
                                "is_enabled": workflow.is_enabled}
    version = workflow.current_version
    snapshot["version"] = version.number if version is not None else None
    for name in VERSION_SETTINGS:
        snapshot[name] = getattr(version, name) if version is not None else None
    return snapshot


def workflow_audit_record(*, actor: Any, workflow: Workflow, action: str,
                          before: dict[str, Any] | None, after: dict[str, Any] | None) -> WorkflowAudit | None:
    """Record a change (created: nothing before). A save that changed
    nothing records nothing; an action with no settings of its own (a retry) always records."""
    if before is not None and before == after and action in {"changed", "enabled", "disabled"}:
        return None
    user = actor if getattr(actor, "pk", None) is not None else None
    return WorkflowAudit.objects.create(
        workflow=workflow if workflow.pk is not None else None,
        workflow_key=workflow.key, action=action, actor=user,
        actor_label=user.get_username() if user is not None else "system",
        before=before, after=after,
    )
