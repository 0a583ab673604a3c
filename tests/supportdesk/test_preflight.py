"""The start-up check names the address it tried and how to start what is missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from supportdesk.preflight import PreflightError, postgres_check, redis_check, run_all

ROOT = Path(__file__).resolve().parents[2]


def test_a_stopped_redis_is_named_with_its_address_and_how_to_start_it():
    with pytest.raises(PreflightError) as error:
        redis_check("redis://127.0.0.1:1/0")

    assert "Redis is not answering at 127.0.0.1:1" in str(error.value)
    assert "redis-server" in str(error.value)


def test_a_stopped_postgres_is_named_with_its_address_and_how_to_start_it():
    database = {**settings.DATABASES["default"], "HOST": "127.0.0.1", "PORT": "1"}

    with pytest.raises(PreflightError) as error:
        postgres_check(database)

    assert "PostgreSQL is not answering at 127.0.0.1:1" in str(error.value)
    assert "pg_ctlcluster" in str(error.value)


def test_every_problem_is_reported_in_one_run():
    database = {**settings.DATABASES["default"], "HOST": "127.0.0.1", "PORT": "1"}

    with pytest.raises(PreflightError) as error:
        run_all(database=database, redis_url="redis://127.0.0.1:1/0", create_database=False)

    assert "PostgreSQL" in str(error.value) and "Redis" in str(error.value)


def test_the_command_prints_a_sentence_not_a_traceback():
    result = subprocess.run(
        [sys.executable, "manage.py", "preflight"], cwd=ROOT, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "DEBUG": "true", "REDIS_URL": "redis://127.0.0.1:1/0",
             "DATABASE_URL": "postgres://127.0.0.1:1/supportdesk"}, timeout=60,
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "PostgreSQL is not answering at 127.0.0.1:1" in result.stderr
    assert "Redis is not answering at 127.0.0.1:1" in result.stderr


def test_the_command_creates_a_missing_database():
    import psycopg

    name = "supportdesk_preflight_probe"
    database = {**settings.DATABASES["default"], "NAME": name}
    with psycopg.connect(dbname="postgres", host=database.get("HOST") or "localhost",
                         user=database.get("USER") or None, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name}")
        try:
            assert "created database" in postgres_check(database, create=True)
            assert "ready" in postgres_check(database, create=True)
        finally:
            connection.execute(f"DROP DATABASE IF EXISTS {name}")
