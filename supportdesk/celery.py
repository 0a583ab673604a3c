"""The Celery application: Redis broker, configuration from Django settings, beat schedule."""

import os
from typing import Any

from celery import Celery
from celery.signals import before_task_publish

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")

app = Celery("supportdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

_HEARTBEAT_TASK = "supportdesk.tasks.heartbeat"  # supportdesk.tasks.HEARTBEAT_TASK, before Django is set up


@before_task_publish.connect
def _beat_alive(sender: str | None = None, **kwargs: Any) -> None:
    # Only beat publishes the heartbeat task, so its publishing is beat's own heartbeat.
    if sender == _HEARTBEAT_TASK:
        from supportdesk.heartbeats import beat_published

        beat_published()
