"""Another database session, as another worker's: for tests of what one session does while
another holds a lock.

Leaving the block ends the session and waits until the server has ended it: closing a
connection returns at once, while the server ends the session (and releases its session
locks) a moment later, so a test asserting what happens once the other worker is gone would
otherwise race it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import connection


@contextmanager
def other_session(*, gone_within: float = 30.0) -> Iterator[psycopg.Connection]:
    params = connection.settings_dict
    other = psycopg.connect(host=params["HOST"] or "localhost", port=params["PORT"] or 5432,
                            user=params["USER"] or None, password=params["PASSWORD"] or None,
                            dbname=params["NAME"], autocommit=True)
    pid = other.info.backend_pid
    try:
        yield other
    finally:
        other.close()
        _gone_wait(pid, timeout=gone_within)


def _gone_wait(pid: int, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            # A fresh view each time: the sessions are read once per transaction otherwise.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
            if cursor.fetchone()[0] == 0:
                return
            assert time.monotonic() < deadline, f"session {pid} still there after {timeout:.0f} s"
            time.sleep(0.05)
