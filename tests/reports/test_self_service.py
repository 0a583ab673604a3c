"""Self-service deflection in the reports (reports.self_service): sessions answered in the range,
deflected, followed by a conversation, still within 24 hours, and the rate, from hand-built
sessions; the language and contact kind filters apply, a queue filter has no such figure."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from conversations.models import SelfServiceSession
from routing.models import AgentProfile
from tests.factories import AgentFactory, ContactFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/reports/overview/"
UTC = ZoneInfo("UTC")


@pytest.fixture(autouse=True)
def _utc(settings):
    settings.TIME_ZONE = "UTC"


def _session(started: datetime, *, answered_after: timedelta = timedelta(0),
             followed_after: timedelta | None = None, language: str = "es",
             kind: str = "customer") -> SelfServiceSession:
    return SelfServiceSession.objects.create(
        contact=ContactFactory(), language=language, contact_kind=kind, started_at=started,
        answered_at=started + answered_after,
        followed_at=None if followed_after is None else started + answered_after + followed_after)


def _week() -> None:
    """In the week of 2 March 2026: three sessions nothing followed (deflected), one followed by
    a conversation 3 hours after its last answer, and, in Kazakh by a courier, one followed 2
    hours on. On 24 February (the week before) one deflected."""
    monday = datetime(2026, 3, 2, 9, tzinfo=UTC)
    for day in range(3):
        _session(monday + timedelta(days=day), answered_after=timedelta(minutes=10))
    _session(monday, followed_after=timedelta(hours=3))
    _session(monday + timedelta(days=1), followed_after=timedelta(hours=2), language="kk", kind="courier")
    _session(datetime(2026, 2, 24, 12, tzinfo=UTC))


def test_the_overview_counts_the_ranges_sessions_and_their_deflection(supervisor_client):
    _week()

    block = supervisor_client.get(URL, {"start": "2026-03-02", "end": "2026-03-08", "compare": "1"}).json()[
        "self_service"]

    assert block["applies"] is True
    assert block["totals"] == {"answered": 5, "deflected": 3, "followed": 2, "open": 0, "deflection_rate": 0.6}
    assert block["previous"] == {"answered": 1, "deflected": 1, "followed": 0, "open": 0, "deflection_rate": 1.0}
    assert [metric["key"] for metric in block["metrics"]] == [
        "answered", "deflected", "followed", "open", "deflection_rate"]


def test_a_session_within_its_24_hours_is_open_and_left_out_of_the_rate(supervisor_client):
    from django.utils import timezone

    from reports.filters import today

    now = timezone.now()
    _session(now - timedelta(hours=2))  # still running
    _session(now - timedelta(hours=30))  # settled: deflected
    day = today()

    block = supervisor_client.get(URL, {"start": (day - timedelta(days=3)).isoformat(),
                                        "end": day.isoformat()}).json()["self_service"]

    assert block["totals"] == {"answered": 2, "deflected": 1, "followed": 0, "open": 1, "deflection_rate": 1.0}


def test_the_language_and_contact_kind_filters_apply(supervisor_client):
    _week()
    week = {"start": "2026-03-02", "end": "2026-03-08"}

    kazakh = supervisor_client.get(URL, {**week, "language": "kk"}).json()["self_service"]["totals"]
    couriers = supervisor_client.get(URL, {**week, "contact_kind": "courier"}).json()["self_service"]["totals"]
    customers = supervisor_client.get(URL, {**week, "contact_kind": "customer"}).json()["self_service"]["totals"]

    assert kazakh == couriers == {"answered": 1, "deflected": 0, "followed": 1, "open": 0, "deflection_rate": 0.0}
    assert customers["answered"] == 4 and customers["deflected"] == 3


@pytest.mark.parametrize("filters", [{"channel": "chat"}, {"agent": "agent"}])
def test_under_a_queue_channel_reason_or_agent_filter_there_is_no_such_figure(supervisor_client, filters):
    _week()
    if "agent" in filters:  # self-service is nobody's work: no agent's figure either
        filters = {"agent": AgentProfile.objects.get(user=AgentFactory()).pk}

    block = supervisor_client.get(URL, {"start": "2026-03-02", "end": "2026-03-08", **filters}).json()[
        "self_service"]

    assert block["applies"] is False
    assert block["totals"] is None


def test_the_metrics_are_named_in_the_desks_language(supervisor_client):
    with translation.override("es"):
        supervisor_client.cookies["desk_language"] = "es"
        block = supervisor_client.get(URL, {"range": "7"}).json()["self_service"]

    assert [metric["label"] for metric in block["metrics"]][:2] == ["Sesiones respondidas", "Evitadas"]


def test_the_reports_page_has_the_self_service_table(supervisor_client):
    page = supervisor_client.get("/desk/reports/").content.decode()

    assert 'data-testid="table-self-service"' in page
    assert "Self-service" in page
