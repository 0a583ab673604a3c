"""The OpenAPI schema and its docs page: served, complete, and with no assets from a CDN."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db

API_PATHS = [
    "/api/v1/contacts/",
    "/api/v1/contacts/{id}/",
    "/api/v1/orders/",
    "/api/v1/orders/{id}/",
    "/api/v1/conversations/",
    "/api/v1/conversations/{id}/",
    "/api/v1/conversations/{conversation_id}/messages/",
]


def test_the_schema_describes_every_api_path(client):
    response = client.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    assert set(API_PATHS) <= set(schema["paths"])
    assert "post" not in schema["paths"]["/api/v1/orders/"]
    assert "delete" not in schema["paths"]["/api/v1/contacts/{id}/"]
    messages_post = schema["paths"]["/api/v1/conversations/{conversation_id}/messages/"]["post"]
    parameters = {parameter["name"]: parameter for parameter in messages_post["parameters"]}
    assert parameters["conversation_id"]["in"] == "path"
    assert parameters["conversation_id"]["schema"] == {"type": "integer"}

def test_the_docs_page_loads_its_assets_from_this_server(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    asset_urls = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)["\']', html)
    local_assets = [url for url in asset_urls if url.startswith("/static/drf_spectacular_sidecar/")]
    assert local_assets
    assert {url: client.get(url).status_code for url in local_assets} == dict.fromkeys(
        local_assets, 200
    )
    assert [url for url in asset_urls if re.match(r"(https?:)?//", url)] == []
    assert "cdn" not in html.lower()
