"""Reads for the admin: statistics per workflow, runs with their steps."""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from workflows.models import RunStatus, StepStatus, WorkflowRun, WorkflowRunStep

# Steps that change nothing for the contact: a run that did only these did not act.
NOT_ACTING = ("wait", "stop_unless")


def workflow_stats(workflow_id: int) -> dict[str, int]:
    """Triggered (every run started), acted (runs with a step that did something), skipped by
    the per-contact limit, failed; and those still running or waiting."""
    acting = (WorkflowRunStep.objects.filter(run=OuterRef("pk"), status=StepStatus.DONE)
              .exclude(action__in=NOT_ACTING))
    counts = WorkflowRun.objects.filter(workflow_id=workflow_id).aggregate(
        triggered=Count("pk"),
        skipped_by_limit=Count("pk", filter=Q(status=RunStatus.SKIPPED)),
        failed=Count("pk", filter=Q(status=RunStatus.FAILED)),
        in_progress=Count("pk", filter=Q(status__in=(RunStatus.RUNNING, RunStatus.WAITING))),
    )
    counts["acted"] = WorkflowRun.objects.filter(workflow_id=workflow_id).filter(Exists(acting)).count()
    return counts


def workflow_runs(workflow_id: int) -> QuerySet[WorkflowRun]:
    return (WorkflowRun.objects.filter(workflow_id=workflow_id).select_related("version", "contact")
            .order_by("-created_at", "-pk"))


def run_steps(run_id: int) -> QuerySet[WorkflowRunStep]:
    return WorkflowRunStep.objects.filter(run_id=run_id).order_by("position")
