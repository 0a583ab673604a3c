"""The OpenAPI schema and its docs page: served, complete, and with no assets from a CDN."""

from __future__ import annotations

import re

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db

API_PATHS = [
    "/api/v1/contacts/",
    "/api/v1/contacts/{id}/",
    "/api/v1/orders/",
    "/api/v1/orders/{id}/",
    "/api/v1/conversations/",
    "/api/v1/conversations/{id}/",
    "/api/v1/conversations/{conversation_id}/messages/",
    "/api/v1/routing/presence/",
    "/api/v1/routing/heartbeat/",
    "/api/v1/routing/me/items/",
    "/api/v1/routing/items/",
    "/api/v1/routing/items/{id}/",
    "/api/v1/routing/items/{id}/accept/",
    "/api/v1/routing/items/{id}/decline/",
    "/api/v1/routing/items/{id}/transfer/",
    "/api/v1/routing/queues/stats/",
    "/api/v1/reports/staffing/",
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
    for verb in ("", "accept/", "decline/", "transfer/"):
        operation = next(iter(schema["paths"][f"/api/v1/routing/items/{{id}}/{verb}"].values()))
        assert operation["parameters"][0]["schema"] == {"type": "integer"}, verb
    assert "id" not in {parameter["name"] for parameter in schema["paths"]["/api/v1/routing/items/"]["get"]
                        ["parameters"]}
    assert set(schema["paths"]["/api/v1/routing/presence/"]) == {"get", "post"}


def test_the_schema_generates_without_warnings_or_errors():
    GENERATOR_STATS.reset()

    schema = SchemaGenerator().get_schema(request=None, public=True)

    validate_schema(schema)  # raises on an invalid OpenAPI document
    assert not GENERATOR_STATS._warn_cache and not GENERATOR_STATS._error_cache, (
        dict(GENERATOR_STATS._warn_cache), dict(GENERATOR_STATS._error_cache))


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


def test_every_operation_documents_its_error_answers_in_the_error_shape():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            documented = operation["responses"]
            for code in ("400", "401", "403", "404", "429"):
                content = documented.get(code, {}).get("content", {}).get("application/json", {})
                assert content.get("schema") == {"$ref": "#/components/schemas/Error"}, (method, path, code)
    error = schema["components"]["schemas"]["ErrorDetail"]
    assert set(error["required"]) == {"code", "message"} and "details" in error["properties"]


def test_answers_may_hold_what_the_columns_hold_blank_and_null_included():
    contact = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]["Contact"]

    properties = contact["properties"]
    assert {"$ref": "#/components/schemas/BlankEnum"} in properties["tier"]["oneOf"]
    assert {"type": "string", "maxLength": 0} in properties["email"]["oneOf"]
    assert properties["current_order"]["nullable"] is True


def test_an_input_that_refuses_unknown_fields_says_so():
    components = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]

    assert components["ContactCreateInputRequest"]["additionalProperties"] is False
    assert "id" not in components["ContactCreateInputRequest"]["properties"]  # read-only: answers only
