"""Suite-wide set-up: the real PostgreSQL and Redis must answer, or the run stops clearly.

Two things keep the suite fast without changing what a test sees (tests/speed.py):
passwords are hashed with a fast hasher, and a transactional test's database is emptied
by deleting the rows of the tables it wrote instead of truncating every table.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from supportdesk.preflight import PreflightError, run_all
from tests import speed


def pytest_configure(config: pytest.Config) -> None:
    try:
        run_all(
            database=settings.DATABASES["default"],
            redis_url=settings.REDIS_URL,
            create_database=False,
        )
    except PreflightError as exc:
        pytest.exit(f"The test suite needs its servers.\n{exc}", returncode=3)
    speed.install()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, with the state a flush leaves recorded (tests/speed.py)."""
    with django_db_blocker.unblock():
        speed.baseline_record()
    yield


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def agent(db):
    from tests.factories import AgentFactory

    return AgentFactory()


@pytest.fixture
def agent_client(agent) -> APIClient:
    client = APIClient()
    client.force_authenticate(agent)
    return client


@pytest.fixture(autouse=True)
def _routing_config_fresh():
    """Each test's database starts empty again: no process-local routing rules or queues
    may outlive the test that created them."""
    from routing.services import routing_config_clear

    routing_config_clear()
    yield
    routing_config_clear()


@pytest.fixture(autouse=True)
def _loop_connection_closed():
    """A websocket test's event loop may have opened its own database connection; it is
    closed after the test, before the test database is emptied or dropped."""
    yield
    from supportdesk.db import loop_connection_close

    loop_connection_close()


@pytest.fixture
def private_channel_layer(settings):
    """The real Redis channel layer under a prefix of this test's own, so other test runs
    on the same Redis stay out of its groups."""
    import uuid

    from channels.layers import get_channel_layer

    layer = settings.CHANNEL_LAYERS["default"]
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": layer["BACKEND"],
        "CONFIG": {**layer["CONFIG"], "prefix": f"test-{uuid.uuid4().hex[:8]}"},
    }}
    return get_channel_layer()


@pytest.fixture
def private_worker():
    """A real Celery worker (a thread, solo pool) on the real Redis broker, consuming a queue
    of this test's own so no other worker steals its tasks. Needs a transactional database."""
    import uuid

    from celery.contrib.testing.worker import start_worker

    from supportdesk.celery import app as celery_app

    queue = f"tests-{uuid.uuid4().hex[:8]}"
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, queues=[queue],
                          shutdown_timeout=30):
            yield queue
    finally:
        celery_app.conf.task_default_queue = previous


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_sink(transactional_db, settings):
    """The desk's own SMTP sink (aiosmtpd, a real SMTP server) on a free port of this test, with
    Django's SMTP backend pointed at it: what a test sends lands in MailboxMessage."""
    from integrations.mail_sink import sink_controller

    port = free_port()
    controller = sink_controller(host="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture
def fake_oms(settings):
    """The fake OMS (integrations.oms.fake_server), a real HTTP server on a thread, with the
    HTTP client pointed at it."""
    from integrations.oms.fake_server import FakeOmsServer

    server = FakeOmsServer(host="127.0.0.1", port=free_port())
    server.start()
    settings.OMS_CLIENT = "http"
    settings.OMS_API_URL = f"{server.url}/api"
    try:
        yield server
    finally:
        server.stop()


@dataclass
class AsgiServer:
    url: str

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")


@pytest.fixture
def asgi_server(transactional_db, private_channel_layer) -> Iterator[AsgiServer]:
    """The whole ASGI application (HTTP and websockets) served by uvicorn on a thread of this
    process, so it uses the test database; static files come from the app directories, as
    `live_server` serves them. Pytest-django's live_server speaks WSGI only: no websockets, and
    none of the routes served beside Django's URL conf (the OMS and WhatsApp webhooks)."""
    import socket
    import threading
    import time

    import uvicorn
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    from supportdesk.asgi import application

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(ASGIStaticFilesHandler(application), host="127.0.0.1", port=port,
                                           lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, name="asgi-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start for the tests")
        time.sleep(0.05)
    yield AsgiServer(url=f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture
def rate_limit_window_held(monkeypatch):
    """The rate limits' clock held at one instant, so a test's requests all count in one window:
    a limit counts in fixed windows, and a test whose dozen requests straddled a window's end
    on a busy machine saw its count start again (a flaky 200 where the 429 was due)."""
    import time

    from supportdesk import ratelimit

    held = time.time()
    keys, verdict = ratelimit._keys, ratelimit._verdict
    monkeypatch.setattr(ratelimit, "_keys", lambda limits, now: keys(limits, held))
    monkeypatch.setattr(ratelimit, "_verdict", lambda counts, limited, now: verdict(counts, limited, held))
    return held
