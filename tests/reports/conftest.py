"""The reports' tests: a supervisor's browser session (the reports are theirs: reports.access)."""

from __future__ import annotations

import pytest

from tests.factories import SupervisorFactory


@pytest.fixture
def supervisor_client(client):
    client.force_login(SupervisorFactory())
    return client
