"""Input the database cannot take is a 4xx in the error shape, for every endpoint: ids in paths
that are not ids, date-times outside what PostgreSQL holds, and whatever slips past validation."""

from __future__ import annotations

import pytest
from django.db import DataError
from drf_spectacular.generators import SchemaGenerator

from supportdesk.api import exception_handler
from tests.factories import ContactFactory, OrderFactory, UserFactory

pytestmark = pytest.mark.django_db

NOT_IDS = ["abc", "null,null", "-1", "٣"]  # the last: an Arabic-Indic digit


def _operations_with_ids() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [(method.upper(), path) for path, operations in schema["paths"].items() if "{" in path
            for method in operations if method in ("get", "post", "patch", "put", "delete")]


@pytest.fixture
def supervisor_client(api_client):
    api_client.force_authenticate(UserFactory(is_staff=True, is_superuser=True))
    return api_client


@pytest.mark.parametrize(("method", "path"), _operations_with_ids())
def test_a_path_id_that_is_no_id_is_a_404_in_the_error_shape_on_every_endpoint(supervisor_client, method, path):
    import re

    for not_an_id in NOT_IDS:
        url = re.sub(r"\{[^}]+\}", not_an_id, path)

        response = supervisor_client.generic(method, url, data="{}", content_type="application/json")

        assert response.status_code == 404, (url, response.status_code)
        assert response.json()["error"]["code"] == "not_found", url


OUT_OF_POSTGRES = {
    "offset past 15:59": "2000-01-01T00:00:00+23:59",
    "offset past 15:59, west": "2000-01-01T00:00:00-16:00",
    "year 1 east of UTC": "0001-01-01T00:00:00+14:00",
    "year 9999 west of UTC": "9999-12-31T23:00:00-14:00",
    "the last day (until: the day after)": "9999-12-31",
}


@pytest.mark.parametrize("value", OUT_OF_POSTGRES.values(), ids=OUT_OF_POSTGRES.keys())
@pytest.mark.parametrize("parameter", ["placed_at_after", "placed_at_before"])
def test_an_order_filter_date_time_postgresql_cannot_hold_is_a_400_or_read_in_utc(
        supervisor_client, parameter, value):
    OrderFactory()

    response = supervisor_client.get("/api/v1/orders/", {parameter: value})

    assert response.status_code in (200, 400), response.status_code
    if response.status_code == 400:
        assert response.json()["error"]["code"] == "invalid"


@pytest.mark.parametrize("value", OUT_OF_POSTGRES.values(), ids=OUT_OF_POSTGRES.keys())
@pytest.mark.parametrize("parameter", ["since", "until"])
def test_a_timeline_bound_postgresql_cannot_hold_is_a_400_or_read_in_utc(supervisor_client, parameter, value):
    contact = ContactFactory()

    response = supervisor_client.get(f"/api/v1/contacts/{contact.pk}/timeline/", {parameter: value})

    assert response.status_code in (200, 400), response.status_code
    if response.status_code == 400:
        assert response.json()["error"]["code"] == "invalid"


def test_an_offset_past_postgresqls_is_read_as_the_same_instant_in_utc(supervisor_client):
    from datetime import UTC, datetime

    OrderFactory(placed_at=datetime(2000, 1, 1, 12, tzinfo=UTC))

    # 2000-01-02T11:59+23:59 is 2000-01-01T12:00Z: the order is on the boundary, both ends included
    after = supervisor_client.get("/api/v1/orders/", {"placed_at_after": "2000-01-02T11:59:00+23:59"})
    before = supervisor_client.get("/api/v1/orders/", {"placed_at_before": "2000-01-02T11:58:00+23:59"})

    assert after.status_code == 200 and len(after.json()["results"]) == 1
    assert before.status_code == 200 and before.json()["results"] == []


def test_a_value_the_database_refuses_is_still_a_400_in_the_error_shape():
    response = exception_handler(DataError("integer out of range"), {})

    assert response.status_code == 400
    assert response.data["error"]["code"] == "invalid"
