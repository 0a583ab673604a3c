"""Liveness and readiness of the running process and the servers it needs.

Each check has its own short timeout (HEALTH_CHECK_TIMEOUT_SECONDS) and its own connection,
so /readyz answers within seconds whatever state the servers or the pool are in.
"""

from __future__ import annotations

import psycopg
import redis
from django.conf import settings

from supportdesk.db import libpq_params


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


def database_check() -> str | None:
    """None when PostgreSQL answers, else why not. A connection of its own rather than one
    from the pool: the pool's wait for a free connection is not the database's health."""
    params = {**libpq_params(), "connect_timeout": settings.HEALTH_CHECK_TIMEOUT_SECONDS}
    try:
        with psycopg.connect(**params, autocommit=True) as connection:
            connection.execute("SELECT 1")
    except Exception as exc:  # any driver error means "not ready"; the message says which
        return _reason(exc)
    return None


def redis_check() -> str | None:
    """None when Redis answers PING, else why not."""
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    except redis.RedisError as exc:
        return _reason(exc)
    finally:
        client.close()
    return None


def readiness() -> dict[str, str | None]:
    return {"database": database_check(), "redis": redis_check()}
