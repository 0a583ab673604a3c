"""Workflow use cases, one module each; the names callers use are re-exported here."""

from workflows.services.dry_run import WouldRun, dry_run
from workflows.services.publish import (
    DefinitionInvalid,
    version_definition,
    workflow_disable,
    workflow_enable,
    workflow_save,
)
from workflows.services.runs import run_advance, run_retry, run_start
from workflows.services.schedules import schedules_fire
from workflows.services.triggers import timers_fire, triggers_drain

__all__ = [
    "DefinitionInvalid", "WouldRun", "dry_run", "run_advance", "run_retry", "run_start", "schedules_fire",
    "timers_fire", "triggers_drain", "version_definition", "workflow_disable", "workflow_enable", "workflow_save",
]
