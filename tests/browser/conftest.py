"""Playwright with the system Chromium (never a downloaded browser).

Outside CI a missing Chromium skips these tests with a loud message; under CI=true it
fails them, so a CI run cannot pass without having driven a real browser.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# Playwright's sync API runs an event loop in this thread; the test body still talks to
# the database synchronously, which Django would otherwise refuse next to a running loop.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def chromium_path() -> str | None:
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return configured if os.path.exists(configured) else None
    return shutil.which("chromium") or (
        "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None
    )


# Module scope: Playwright's event loop must be gone before tests that run their own.
@pytest.fixture(scope="module")
def browser() -> Iterator:
    path = chromium_path()
    if path is None:
        message = ("BROWSER TESTS NOT RUN: no Chromium found (install the Debian package "
                   "`chromium`, which `make test` does as root, or set CHROMIUM_PATH).")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser) -> Iterator:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


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
    `live_server` serves them. Pytest-django's live_server speaks WSGI only: no websockets."""
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
            raise RuntimeError("uvicorn did not start for the browser tests")
        time.sleep(0.05)
    yield AsgiServer(url=f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(timeout=15)
