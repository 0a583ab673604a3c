"""The REST API's clients and addresses, shared by the conversations API tests (their fixtures
are in this folder's conftest.py)."""

from __future__ import annotations

from rest_framework.test import APIClient

CONVERSATIONS = "/api/v1/conversations/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def messages_url(conversation_id: int) -> str:
    return f"{CONVERSATIONS}{conversation_id}/messages/"


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]
