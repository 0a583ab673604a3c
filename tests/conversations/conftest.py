"""Fixtures the conversations API tests share (test_api.py, test_api_access.py)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from conversations.models import Conversation
from tests.conversations.api_clients import client_for
from tests.factories import IntegrationFactory, SupervisorFactory
from tests.scenarios import conversation_assigned, online_agent


@pytest.fixture
def supervisor_client() -> APIClient:
    return client_for(SupervisorFactory())


@pytest.fixture
def integration_client() -> APIClient:
    return client_for(IntegrationFactory())


@pytest.fixture
def mine(agent) -> Conversation:
    """A conversation assigned to the calling agent (agent_client)."""
    return conversation_assigned(online_agent(agent))
