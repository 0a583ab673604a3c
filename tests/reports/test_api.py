"""GET /api/v1/reports/staffing/: supervisors only, the week in JSON, bad input a 400."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reports.forecast import next_week_start
from reports.models import HourRollup
from tests.factories import AgentFactory
from tests.reports import story

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/staffing/"


def test_only_supervisors_read_it(api_client):
    story.queue()
    assert api_client.get(URL, {"queue": "general"}).status_code == 401
    api_client.force_authenticate(AgentFactory())

    response = api_client.get(URL, {"queue": "general"})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_a_supervisor_gets_the_week_hour_by_hour(supervisor_client):
    general = story.queue(target=45)
    HourRollup.objects.create(hour=datetime(2026, 3, 2, 10, tzinfo=UTC), queue_id=general.pk, channel="chat",
                              arrived=50)

    response = supervisor_client.get(URL, {"queue": "general", "week": "2026-03-09"})

    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in ("queue", "channel", "week", "time_zone", "target_wait_seconds",
                                       "service_level_target")} == {
        "queue": "general", "channel": "", "week": "2026-03-09", "time_zone": "UTC", "target_wait_seconds": 45,
        "service_level_target": 0.8}
    assert [channel["channel"] for channel in body["channels"]] == ["chat"]
    assert len(body["hours"]) == 168
    monday = body["hours"][10]
    assert (monday["date"], monday["hour"], monday["starts_at"]) == ("2026-03-09", 10, "2026-03-09T10:00:00Z")
    assert monday["forecast_arrivals"] == pytest.approx(20)
    assert monday["needed_erlang_c"] >= monday["needed_erlang_a"] > 0
    assert monday["online_last_week"] == 0 and monday["short"] is True


def test_the_week_defaults_to_the_coming_one(supervisor_client):
    story.queue()

    assert supervisor_client.get(URL, {"queue": "general"}).json()["week"] == next_week_start().isoformat()


@pytest.mark.parametrize(("query", "field"), [
    ({}, "queue"),
    ({"queue": "nowhere"}, "queue"),
    ({"queue": "general", "week": "next monday"}, "week"),
    ({"queue": "general", "week": "2026-02-30"}, "week"),
    ({"queue": "general", "channel": "fax"}, "channel"),
    ({"queue": "gen\x00eral"}, "queue"),
])
def test_bad_input_is_a_400_in_the_error_shape(supervisor_client, query, field):
    story.queue()

    response = supervisor_client.get(URL, query)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["details"]


@pytest.mark.parametrize("week", ["0001-01-01", "1999-12-27", "3000-01-06", "9999-12-27"])
def test_a_week_outside_the_desks_era_is_a_400_not_a_500(supervisor_client, week):
    story.queue()

    response = supervisor_client.get(URL, {"queue": "general", "week": week})

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"week": ["out_of_range"]}
