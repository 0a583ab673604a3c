"""Liveness and readiness of the running process and the servers it needs."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection


def database_check() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not ready"; the message says which
        return f"{type(exc).__name__}: {exc}".strip()
    return None


def redis_check() -> str | None:
    """None when Redis answers PING, else why not."""
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        client.close()
    return None


def readiness() -> dict[str, str | None]:
    return {"database": database_check(), "redis": redis_check()}
