"""The Celery application: Redis broker, configuration from Django settings, beat schedule."""

import os
import time
from typing import Any

from celery import Celery
from celery.loaders.app import AppLoader
from celery.signals import before_task_publish, task_failure, task_postrun, task_prerun

from supportdesk.deployment import InsecureDeployment
from supportdesk.logs import log_id_reset, log_id_set

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


SENT_AT_HEADER = "desk_sent_at"  # when the task was published: its lag in the broker, for /metrics


@before_task_publish.connect
def _beat_alive(sender: str | None = None, headers: dict | None = None, **kwargs: Any) -> None:
    if headers is not None:
        headers[SENT_AT_HEADER] = time.time()
    # Only beat publishes the heartbeat task, so its publishing is beat's own heartbeat.
    if sender == _HEARTBEAT_TASK:
        from supportdesk.heartbeats import beat_published

        beat_published()


# Every line a task logs carries its id (supportdesk.logs); the token is kept on the task
# request so postrun restores what was there (eager tasks run inside a request).
@task_prerun.connect
def _log_id_enter(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    if task is None:
        return
    task.request.log_id_token = log_id_set(task_id or "-")
    lag = task_lag(task.request, now=time.time())
    if lag is not None:
        from supportdesk import metrics

        metrics.observe("celery_task_lag_seconds", lag, {"task": task.name})


def task_lag(request: Any, *, now: float) -> float | None:
    """Seconds a task waited between being due (published, or its countdown's end) and starting;
    None for a task run where it was asked (eager) or published without the header."""
    if getattr(request, "is_eager", False):
        return None
    sent = getattr(request, SENT_AT_HEADER, None) or (getattr(request, "headers", None) or {}).get(SENT_AT_HEADER)
    if sent is None:
        return None
    due = float(sent)
    eta = getattr(request, "eta", None)
    if eta:
        from datetime import datetime

        try:
            due = max(due, datetime.fromisoformat(eta).timestamp() if isinstance(eta, str) else eta.timestamp())
        except (TypeError, ValueError):
            pass
    return max(now - due, 0.0)


@task_failure.connect
def _task_failed(sender: Any = None, **kwargs: Any) -> None:
    from supportdesk import metrics

    metrics.count("celery_task_failures_total", {"task": getattr(sender, "name", "unknown")})


@task_postrun.connect
def _log_id_leave(task: Any = None, **kwargs: Any) -> None:
    token = getattr(task.request, "log_id_token", None) if task is not None else None
    if token is not None:
        task.request.log_id_token = None
        log_id_reset(token)
