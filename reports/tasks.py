"""The reports' Celery tasks: thin, over reports.rollups."""

from __future__ import annotations

from celery import shared_task

from reports import rollups


@shared_task(name="reports.tasks.rollups_drain", ignore_result=True)
def rollups_drain() -> int:
    """The counters per hour brought up to date with what the desk wrote since (the beat)."""
    return rollups.rollups_drain(rounds=10)
