"""Liveness and readiness of the running process, the servers it needs and Celery's processes.

Each check has its own short timeout (HEALTH_CHECK_TIMEOUT_SECONDS) and its own connection,
so /readyz answers within seconds whatever state the servers or the pool are in.
"""

from __future__ import annotations

from typing import Any

import psycopg
import redis
from django.conf import settings

from supportdesk import heartbeats
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


def _redis_client() -> redis.Redis:
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout)


def redis_check(client: redis.Redis | None = None) -> str | None:
    """None when Redis answers PING, else why not."""
    own = client is None
    client = client or _redis_client()
    try:
        client.ping()
    except redis.RedisError as exc:
        return _reason(exc)
    finally:
        if own:
            client.close()
    return None


def heartbeats_check(client: redis.Redis) -> dict[str, dict[str, Any]]:
    """Each Celery process's heartbeat: its age in seconds (None: none on record) and what is
    wrong with it, if anything."""
    try:
        ages = heartbeats.heartbeat_ages(client=client)
    except redis.RedisError as exc:
        return {component: {"age_seconds": None, "problem": f"cannot read its heartbeat: {_reason(exc)}"}
                for component in heartbeats.COMPONENTS}
    return {component: {"age_seconds": None if age is None else round(age, 1),
                        "problem": heartbeats.heartbeat_problem(component, age)}
            for component, age in ages.items()}


def readiness() -> dict[str, Any]:
    """`checks`: each part's problem, None when fine (beat and worker only when READYZ_HEARTBEATS
    makes them count); `heartbeats`: what /readyz shows of Celery's processes either way."""
    client = _redis_client()
    try:
        redis_problem = redis_check(client)
        beats = heartbeats_check(client) if redis_problem is None else {
            component: {"age_seconds": None, "problem": "Redis is unreachable"}
            for component in heartbeats.COMPONENTS}
    finally:
        client.close()
    checks = {"database": database_check(), "redis": redis_problem}
    if settings.READYZ_HEARTBEATS:
        checks.update({component: beat["problem"] for component, beat in beats.items()})
    return {"checks": checks, "heartbeats": beats}
