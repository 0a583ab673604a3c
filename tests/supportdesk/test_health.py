"""Liveness, readiness and the JSON errors outside the API."""

from __future__ import annotations

import logging
import time
import uuid
from unittest import mock

import pytest

from supportdesk import heartbeats


def test_healthz_answers_without_touching_servers(client):
    with mock.patch("supportdesk.views.readiness", side_effect=AssertionError("not called")):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.fixture(autouse=True)
def _own_heartbeats(settings):
    """Heartbeat keys of this test's own (other desks and runs share the Redis server), and
    no staleness remembered from another test."""
    settings.REDIS_KEY_PREFIX = f"test-{uuid.uuid4().hex}"
    heartbeats._stale_seen.clear()
    yield
    heartbeats._stale_seen.clear()


def beating(*components: str, seconds_ago: float = 0.0) -> None:
    for component in components:
        heartbeats.heartbeat_record(component, now=time.time() - seconds_ago)


@pytest.mark.django_db
def test_readyz_is_ready_when_database_redis_beat_and_worker_answer(client):
    beating("beat", "worker", seconds_ago=3)

    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["checks"] == {"database": "ok", "redis": "ok", "beat": "ok", "worker": "ok"}
    assert {name: beat["age_seconds"] >= 3 for name, beat in body["heartbeats"].items()} == {
        "beat": True, "worker": True}


@pytest.mark.django_db
def test_readyz_names_redis_when_it_is_down(client, settings):
    beating("beat", "worker")
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["beat", "redis", "worker"]  # their heartbeats cannot be read either
    assert "Connection" in body["errors"]["redis"]


@pytest.mark.django_db
def test_readyz_names_the_database_when_it_fails(client):
    beating("beat", "worker")
    with mock.patch("supportdesk.health.database_check", return_value="OperationalError: gone"):
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]


@pytest.mark.django_db
def test_readyz_says_which_celery_process_is_stale_or_never_seen(client, settings):
    settings.HEARTBEAT_MAX_AGE_SECONDS = 60
    beating("beat", seconds_ago=90)  # and no worker ever

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["beat", "worker"]
    assert "90 s ago" in body["errors"]["beat"] and "no heartbeat" in body["errors"]["worker"]
    assert body["heartbeats"]["worker"]["age_seconds"] is None


@pytest.mark.django_db
def test_readyz_can_leave_celery_out_of_the_answer_yet_still_shows_it(client, settings):
    settings.READYZ_HEARTBEATS = False
    beating("worker", seconds_ago=600)

    response = client.get("/readyz")

    assert response.status_code == 200
    assert set(response.json()["checks"]) == {"database", "redis"}
    assert "600 s ago" in response.json()["heartbeats"]["worker"]["problem"]


def test_a_stale_heartbeat_is_logged_once_when_it_goes_stale_and_again_when_it_is_back(caplog, settings):
    settings.HEARTBEAT_MAX_AGE_SECONDS = 60
    caplog.set_level(logging.INFO, logger="supportdesk.heartbeats")

    for age in (5, 61, 300, 2, 1):
        heartbeats.heartbeat_problem("worker", age)

    assert [(record.levelname, record.getMessage().split(":")[0]) for record in caplog.records] == [
        ("WARNING", "Celery worker is stale"), ("INFO", "Celery worker is beating again")]


def test_beat_publishing_the_heartbeat_is_beats_heartbeat_and_warns_of_a_silent_worker(caplog):
    from celery.signals import before_task_publish

    from supportdesk.tasks import HEARTBEAT_TASK

    beating("worker", seconds_ago=3600)

    before_task_publish.send(sender=HEARTBEAT_TASK, body=(), headers={})
    before_task_publish.send(sender="routing.tasks.routing_sweep", body=(), headers={})

    ages = heartbeats.heartbeat_ages()
    assert ages["beat"] is not None and ages["beat"] < 60
    assert [record.getMessage().split(":")[0] for record in caplog.records
            if record.name == "supportdesk.heartbeats"] == ["Celery worker is stale"]


def test_beat_schedules_the_heartbeat_every_interval(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["supportdesk-heartbeat"]

    assert entry["task"] == "supportdesk.tasks.heartbeat"
    assert entry["schedule"] == settings.HEARTBEAT_INTERVAL_SECONDS


def test_a_real_worker_running_the_heartbeat_beats_for_the_worker(private_worker):
    from supportdesk.celery import app
    from supportdesk.tasks import HEARTBEAT_TASK

    app.send_task(HEARTBEAT_TASK, queue=private_worker)  # as beat does

    deadline = time.monotonic() + 60  # a deadline to fail by, not a speed to meet
    while heartbeats.heartbeat_ages()["worker"] is None and time.monotonic() < deadline:
        time.sleep(0.1)
    ages = heartbeats.heartbeat_ages()
    assert ages["worker"] is not None and ages["beat"] is not None


def test_unknown_api_paths_get_the_json_error_shape(client, settings):
    settings.DEBUG = False

    response = client.get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_home_asks_a_visitor_to_log_in(client):
    response = client.get("/")

    assert response.status_code == 200
    assert b'href="/desk/login/?next=/"' in response.content


@pytest.mark.django_db
def test_home_shows_a_supervisor_the_way_and_the_figures(client, django_user_model):
    from tests.factories import ContactFactory

    ContactFactory.create_batch(3)
    supervisor = django_user_model.objects.create_superuser("boss", password="pw")
    client.force_login(supervisor)

    response = client.get("/")

    assert response.status_code == 200
    assert b'href="/admin/"' in response.content
    assert response.context["counts"]["contacts"] == 3
