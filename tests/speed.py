"""What keeps the test suite inside its CI budget, without changing what any test sees.

- Passwords are hashed with MD5 under test: the production hasher (PBKDF2, a million rounds)
  spent about half a second of every test that creates a user. Production's hashers are
  untouched (supportdesk/settings.py); only the test process changes them.
- A transactional test (``django_db(transaction=True)``, ``transactional_db``) leaves an
  empty database behind, as Django's flush does, but faster: Django truncates every table
  (a TRUNCATE costs tens of milliseconds per table on PostgreSQL, whatever it holds) and
  then re-creates the content types and permissions (post_migrate). Here the rows of the
  tables that hold any are deleted in one transaction (the foreign keys are deferred), and
  content types and permissions, which post_migrate would re-create exactly, are kept.
  When a test changed those two tables (their checksum differs from the one recorded
  after the test database was created), Django's own flush runs instead.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connections, transaction
from django.test.testcases import TransactionTestCase

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# What post_migrate re-creates after Django's flush: kept as they are instead.
KEPT_TABLES = ("django_content_type", "auth_permission")

_baselines: dict[str, str] = {}
_empty_statements: dict[str, str] = {}
_original_fixture_teardown = TransactionTestCase._fixture_teardown


def install() -> None:
    settings.PASSWORD_HASHERS = FAST_HASHERS
    TransactionTestCase._fixture_teardown = _fixture_teardown


def _kept_checksum(alias: str) -> str:
    connection = connections[alias]
    parts = " || ".join(
        f"coalesce((SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM {connection.ops.quote_name(table)} t),"
        " '')" for table in KEPT_TABLES)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {parts}")
        return cursor.fetchone()[0]


def baseline_record() -> None:
    """The content types and permissions as migrate (and post_migrate) left them."""
    for alias in connections:
        if connections[alias].vendor == "postgresql":
            _baselines[alias] = _kept_checksum(alias)


def _empty_sql(alias: str) -> str:
    if alias not in _empty_statements:
        _empty_statements[alias] = _empty_sql_build(alias)
    return _empty_statements[alias]


def _empty_sql_build(alias: str) -> str:
    connection = connections[alias]
    tables = sorted(set(connection.introspection.django_table_names(only_existing=True, include_views=False))
                    - set(KEPT_TABLES))
    names = ", ".join("'" + connection.ops.quote_name(table).replace("'", "''") + "'" for table in tables)
    # One round trip: each table is looked at (an empty one costs a fraction of a millisecond)
    # and emptied only if it holds rows. Django's foreign keys are DEFERRABLE, so the order of
    # the deletes does not matter once they are deferred to the commit.
    return f"""
        DO $$
        DECLARE name text; has_rows boolean;
        BEGIN
            SET CONSTRAINTS ALL DEFERRED;
            FOREACH name IN ARRAY ARRAY[{names}]::text[] LOOP
                EXECUTE 'SELECT EXISTS (SELECT FROM ' || name || ')' INTO has_rows;
                IF has_rows THEN
                    EXECUTE 'DELETE FROM ' || name;
                END IF;
            END LOOP;
        END $$;
    """


def _fast_empty(alias: str) -> bool:
    """Empty the database as Django's flush would; False when only the flush itself will do."""
    if alias not in _baselines or _kept_checksum(alias) != _baselines[alias]:
        return False
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute(_empty_sql(alias))
    return True


def _fixture_teardown(self: TransactionTestCase) -> None:
    if self.available_apps is not None or self.serialized_rollback or self.reset_sequences:
        _original_fixture_teardown(self)
        return
    for alias in self._databases_names(include_mirrors=False):
        if not _fast_empty(alias):
            _flush(self, alias)


def _flush(test: TransactionTestCase, alias: str) -> None:
    from django.core.management import call_command

    call_command("flush", verbosity=0, interactive=False, database=alias, reset_sequences=False,
                 allow_cascade=False, inhibit_post_migrate=False)
    if alias in _baselines:
        _baselines[alias] = _kept_checksum(alias)
