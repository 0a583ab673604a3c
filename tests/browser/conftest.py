"""Playwright with the system Chromium (never a downloaded browser).

Outside CI a missing Chromium skips these tests with a loud message; under CI=true it
fails them, so a CI run cannot pass without having driven a real browser.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator

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
