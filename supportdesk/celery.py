"""The Celery application: Redis broker, configuration from Django settings, beat schedule."""

import os
from typing import Any

from celery import Celery
from celery.loaders.app import AppLoader
from celery.signals import before_task_publish

from supportdesk.deployment import InsecureDeployment

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")


class _Loader(AppLoader):
    """Celery's loader, which stops a worker or beat refused by the settings with the sentence that
    says why instead of a traceback (the settings load here, while Celery parses its options)."""

    def config_from_object(self, obj: object, silent: bool = False) -> bool:
        try:
            return super().config_from_object(obj, silent=silent)
        except InsecureDeployment as refused:
            raise SystemExit(str(refused)) from None


app = Celery("supportdesk", loader="supportdesk.celery:_Loader")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

_HEARTBEAT_TASK = "supportdesk.tasks.heartbeat"  # supportdesk.tasks.HEARTBEAT_TASK, before Django is set up


@before_task_publish.connect
def _beat_alive(sender: str | None = None, **kwargs: Any) -> None:
    # Only beat publishes the heartbeat task, so its publishing is beat's own heartbeat.
    if sender == _HEARTBEAT_TASK:
        from supportdesk.heartbeats import beat_published

        beat_published()
