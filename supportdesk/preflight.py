"""Checks that the servers the desk needs answer, with messages a person can act on.

Used by `manage.py preflight` (the Makefile runs it before anything else) and by the test
suite's start-up, so a stopped PostgreSQL or Redis gives one clear sentence naming the
address tried and how to start it, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
import redis
from psycopg import sql

POSTGRES_HINT = (
    "Start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` "
    "(or `docker-compose up -d db`), or point DATABASE_URL at a running server."
)
REDIS_HINT = (
    "Start it with `redis-server --daemonize yes --bind 127.0.0.1 --port 6379` "
    "(or `docker-compose up -d redis`), or point REDIS_URL at a running server."
)


class PreflightError(Exception):
    """A server the desk needs is missing; the message says where we looked and what to do."""


@dataclass(frozen=True)
class PostgresTarget:
    host: str
    port: int
    user: str | None
    password: str | None
    name: str

    @classmethod
    def from_settings(cls, database: dict[str, Any]) -> PostgresTarget:
        return cls(
            host=database.get("HOST") or "localhost",
            port=int(database.get("PORT") or 5432),
            user=database.get("USER") or None,
            password=database.get("PASSWORD") or None,
            name=database["NAME"],
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def connect(self, dbname: str) -> psycopg.Connection:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=dbname,
            connect_timeout=3,
            autocommit=True,
        )


def postgres_check(database: dict[str, Any], *, create: bool = False) -> str:
    """Connect to the server; create the database when asked and missing. Returns a status line."""
    target = PostgresTarget.from_settings(database)
    try:
        connection = target.connect("postgres")
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PreflightError(
            f"PostgreSQL is not answering at {target.address} ({reason}). {POSTGRES_HINT}"
        ) from None
    with connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (target.name,)
        ).fetchone()
        if exists:
            return f"PostgreSQL at {target.address}: database {target.name!r} ready"
        if not create:
            return f"PostgreSQL at {target.address}: answering (database {target.name!r} absent)"
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.name)))
        return f"PostgreSQL at {target.address}: created database {target.name!r}"


def redis_check(url: str) -> str:
    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    address = f"{client.connection_pool.connection_kwargs.get('host')}:" \
        f"{client.connection_pool.connection_kwargs.get('port')}"
    try:
        client.ping()
    except redis.RedisError as exc:
        raise PreflightError(f"Redis is not answering at {address} ({exc}). {REDIS_HINT}") from None
    finally:
        client.close()
    return f"Redis at {address}: answering"


def run_all(*, database: dict[str, Any], redis_url: str, create_database: bool) -> list[str]:
    """Check every server, collecting all problems before failing so one run names them all."""
    lines: list[str] = []
    problems: list[str] = []
    for check in (
        lambda: postgres_check(database, create=create_database),
        lambda: redis_check(redis_url),
    ):
        try:
            lines.append(check())
        except PreflightError as exc:
            problems.append(str(exc))
    if problems:
        raise PreflightError("\n".join(problems))
    return lines
