"""What keeps the suite fast (tests/speed.py) changes nothing a test sees: a transactional
test still leaves an empty database behind, passwords still check, and parallel workers
(pytest -n) each have their own database, Redis key prefix and Celery queue."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.testcases import TransactionTestCase

from routing.models import Queue
from tests import speed
from tests.factories import AgentFactory, ContactFactory, OrderFactory


class _Emptied(TransactionTestCase):
    """Only its teardown is used, called by the tests below."""

    __test__ = False

    def runTest(self) -> None:  # noqa: N802  (unittest's name)
        pass


def _row_counts() -> dict[str, int]:
    counts = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.django_table_names(only_existing=True, include_views=False):
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


@pytest.mark.django_db(transaction=True)
def test_the_teardown_empties_every_table_and_keeps_content_types_and_permissions():
    content_types, permissions = ContentType.objects.count(), Permission.objects.count()
    AgentFactory()
    OrderFactory(customer=ContactFactory())
    Queue.objects.create(key="general", name="General")

    _Emptied()._fixture_teardown()

    left = {table: rows for table, rows in _row_counts().items() if rows}
    assert left == {"django_content_type": content_types, "auth_permission": permissions}
    assert content_types > 0 and permissions > 0


@pytest.mark.django_db(transaction=True)
def test_a_test_that_changed_permissions_gets_djangos_own_flush():
    content_type = ContentType.objects.get_for_model(Queue)
    Permission.objects.create(content_type=content_type, codename="bench_only", name="Bench only")
    Queue.objects.create(key="general", name="General")

    _Emptied()._fixture_teardown()

    assert not Queue.objects.exists()
    assert not Permission.objects.filter(codename="bench_only").exists()
    # post_migrate re-created the model permissions the flush removed
    assert Permission.objects.filter(codename="add_queue").exists()
    assert speed._baselines["default"] == speed._kept_checksum("default")


@pytest.mark.django_db
def test_passwords_are_hashed_fast_and_still_checked():
    user = AgentFactory(username="fast", password="a long passphrase")

    assert user.password.startswith("md5$")
    assert user.check_password("a long passphrase")
    assert not user.check_password("another one")


@pytest.mark.django_db
def test_a_parallel_worker_has_its_own_database_redis_prefix_and_queue():
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker:
        pytest.skip("not under pytest -n: nothing to isolate")
    assert settings.REDIS_KEY_PREFIX.endswith(worker)
    assert settings.CELERY_TASK_DEFAULT_QUEUE.endswith(worker)
    assert settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"].startswith(settings.REDIS_KEY_PREFIX + ":")
    assert connection.settings_dict["NAME"].endswith(f"_{worker}")
