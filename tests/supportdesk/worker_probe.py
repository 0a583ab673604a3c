"""A task for the worker drills (test_worker_outage.py): it notes each run in a file, outside Redis,
so a test can tell which of the tasks it sent ran, across a restart of the broker."""

from __future__ import annotations

import os
import time

from celery import shared_task

PROBE_TASK = "tests.worker_probe.record"


@shared_task(name=PROBE_TASK, ignore_result=True)
def record(token: str, busy_seconds: float = 0.0) -> None:
    # Busy tasks keep late acknowledgements outstanding, as real tasks do while they run.
    time.sleep(busy_seconds)
    # One short line per O_APPEND write lands whole, whichever pool process writes it.
    fd = os.open(os.environ["WORKER_PROBE_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{token}\n".encode())
    finally:
        os.close(fd)
