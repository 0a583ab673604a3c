"""Liveness, readiness and the JSON errors outside the API."""

from __future__ import annotations

from unittest import mock

import pytest


def test_healthz_answers_without_touching_servers(client):
    with mock.patch("supportdesk.views.readiness", side_effect=AssertionError("not called")):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ready_when_database_and_redis_answer(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


@pytest.mark.django_db
def test_readyz_names_redis_when_it_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["redis"]
    assert "Connection" in body["errors"]["redis"]


@pytest.mark.django_db
def test_readyz_names_the_database_when_it_fails(client):
    with mock.patch("supportdesk.health.database_check", return_value="OperationalError: gone"):
        with mock.patch("supportdesk.health.redis_check", return_value=None):
            response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]


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
