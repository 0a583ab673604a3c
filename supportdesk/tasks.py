"""Celery tasks of the core: thin."""

from __future__ import annotations

from celery import shared_task

from supportdesk import heartbeats

HEARTBEAT_TASK = "supportdesk.tasks.heartbeat"


@shared_task(name=HEARTBEAT_TASK, ignore_result=True)
def heartbeat() -> None:
    """Run by a worker every few seconds (beat schedules it): the worker is alive."""
    heartbeats.heartbeat_record("worker")
