"""The reports API, exports and drill-down over hand-built histories."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import translation
from openpyxl import load_workbook
from rest_framework.test import APIClient

from conversations.models import ContactReason
from reports import rollups
from routing.models import AgentProfile
from tests.factories import AgentFactory, SupervisorFactory
from tests.reports import story
from tests.reports.story import at

pytestmark = pytest.mark.django_db

RANGE = {"start": "2026-03-02", "end": "2026-03-02"}


@pytest.fixture(autouse=True)
def _utc(settings):
    settings.TIME_ZONE = "UTC"


@pytest.fixture
def desk():
    """Monday 2 March: general (target 60 s) takes three chats, two answered by Ana (20 s and
    100 s) and one abandoned after 30 s; vip takes one answered by Ben in 10 s. Ana resolves
    both of hers ("late"), one rated 5; Ben resolves his ("refund"), rated 2. On Sunday 1 March
    one chat in general was resolved by Ana ("late")."""
    ContactReason.objects.get_or_create(key="late", defaults={"label": "Late order"})
    ContactReason.objects.get_or_create(key="refund", defaults={"label": "Refund"})
    general, vip = story.queue("general", target=60), story.queue("vip", target=30)
    ana, ben = AgentFactory(username="ana"), AgentFactory(username="ben")
    ana_profile, ben_profile = (AgentProfile.objects.get(user=user) for user in (ana, ben))
    records = []

    def chat(in_queue, minutes, wait, agent, *, reason="", rating=None, abandoned=False, language="es"):
        record = story.conversation(created=at(minutes=minutes), language=language)
        start = at(minutes=minutes)
        if abandoned:
            story.item(record, in_queue, enqueued=start, state="cancelled",
                       completed=start + timedelta(seconds=wait))
            story.status(record, "closed", start + timedelta(seconds=wait))
        else:
            answered = start + timedelta(seconds=wait)
            done = start + timedelta(minutes=10)
            story.item(record, in_queue, enqueued=start, state="completed", answered=answered, completed=done,
                       history=[("assigned", answered, agent), ("completed", done, agent)])
            story.status(record, "resolved", done, reason=reason)
            if rating:
                type(record).objects.filter(pk=record.pk).update(rating=rating)
        records.append(record)
        return record

    chat(general, 0, 20, ana_profile, reason="late", rating=5)
    chat(general, 5, 100, ana_profile, reason="late")
    chat(general, 8, 30, None, abandoned=True)
    chat(vip, 15, 10, ben_profile, reason="refund", rating=2, language="en")
    sunday = story.conversation(created=at(days=-1))
    story.item(sunday, general, enqueued=at(days=-1), state="completed", answered=at(days=-1, seconds=5),
               completed=at(days=-1, minutes=3), history=[("assigned", at(days=-1, seconds=5), ana_profile)])
    story.status(sunday, "resolved", at(days=-1, minutes=3), reason="late")
    records.append(sunday)
    rollups.conversations_refresh([record.pk for record in records])
    return {"ana": ana, "ben": ben, "ana_profile": ana_profile, "ben_profile": ben_profile, "general": general}


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_metrics_and_the_days_are_named_in_the_active_language():
    client = client_for(SupervisorFactory())
    january = {"start": "2026-01-01", "end": "2026-01-03"}  # day by day

    english = client.get("/api/v1/reports/overview/", january).json()
    with translation.override("es"):
        spanish = client.get("/api/v1/reports/overview/", january).json()

    assert english["series"][0]["label"] == "01 Jan" and spanish["series"][0]["label"] == "01 Ene"
    names = {metric["key"]: metric["label"] for metric in spanish["metrics"]}
    assert names["service_level"] == "Nivel de servicio" and names["created"] == "Creadas"
    assert names["fcr_rate"] == "Resolución en el primer contacto"
    assert {metric["key"]: metric["label"] for metric in spanish["agent_metrics"]}["occupancy"] == "Ocupación"


def test_the_overview_totals_are_the_days_figures_worked_out_by_hand(desk):
    body = client_for(SupervisorFactory()).get("/api/v1/reports/overview/", RANGE).json()
    totals = body["totals"]
    assert (totals["created"], totals["arrived"], totals["answered"], totals["abandoned"]) == (4, 4, 3, 1)
    # Counted: 3 answered + 1 abandoned (30 s, not short); misses: 100 s > 60 s. 3 of 4.
    assert totals["service_level"] == pytest.approx(0.75)
    assert totals["asa_seconds"] == pytest.approx((20 + 100 + 10) / 3)
    assert totals["longest_wait_seconds"] == 100
    assert totals["abandonment_rate"] == pytest.approx(0.25)
    assert (totals["resolved"], totals["ratings"]) == (3, 2)
    assert totals["csat"] == pytest.approx(0.5) and totals["rating_average"] == pytest.approx(3.5)
    assert totals["backlog"] == 0  # all resolved or closed
    assert body["range"]["interval"] == "hour" and len(body["series"]) == 24
    ten = body["series"][10]
    assert ten["created"] == 4 and ten["label"] == "10:00"
    monday_ten = next(cell for cell in body["hour_of_week"] if cell["weekday"] == 0 and cell["hour"] == 10)
    assert monday_ten["arrived"] == 4
    by_queue = {row["value"]: row for row in body["tables"]["queue"]}
    assert by_queue[str(desk["general"].pk)]["service_level"] == pytest.approx(2 / 3)
    assert {row["value"]: row["created"] for row in body["tables"]["language"]} == {"es": 3, "en": 1}
    agents = {row["label"]: row for row in body["tables"]["agent"]}
    assert (agents["ana"]["answered"], agents["ana"]["resolved"], agents["ben"]["csat"]) == (2, 2, 0.0)


def test_filters_and_the_previous_period(desk):
    client = client_for(SupervisorFactory())
    body = client.get("/api/v1/reports/overview/", {**RANGE, "queue": "general", "compare": "1"}).json()
    assert body["totals"]["created"] == 3
    assert body["previous_range"] == {"start": "2026-03-01", "end": "2026-03-01"}
    assert body["previous"]["resolved"] == 1 and body["previous"]["created"] == 1
    assert client.get("/api/v1/reports/overview/", {**RANGE, "language": "en"}).json()["totals"]["created"] == 1
    assert client.get("/api/v1/reports/overview/", {**RANGE, "contact_reason": "refund"}).json()["totals"][
        "resolved"] == 1
    weekly = client.get("/api/v1/reports/overview/", {"start": "2026-02-24", "end": "2026-03-02"}).json()
    assert weekly["range"]["interval"] == "day" and len(weekly["series"]) == 7
    assert [entry["created"] for entry in weekly["series"]][-2:] == [1, 4]


def test_a_range_of_days_reads_the_counters_per_day_to_the_same_figures(desk):
    """Saturday to Monday is drawn day by day (the counters per day, the hour of the week from
    the totals per hour, or from the hours' rows when a queue is chosen): Sunday's chat and
    Monday's four, worked out by hand."""
    client = client_for(SupervisorFactory())
    body = client.get("/api/v1/reports/overview/", {"start": "2026-02-28", "end": "2026-03-02"}).json()
    totals = body["totals"]
    assert body["range"]["interval"] == "day"
    assert (totals["created"], totals["answered"], totals["abandoned"], totals["resolved"]) == (5, 4, 1, 4)
    # Counted 4 answered + 1 abandoned; the one miss is the 100 s answer (general's target 60 s).
    assert totals["service_level"] == pytest.approx(4 / 5)
    assert totals["asa_seconds"] == pytest.approx((5 + 20 + 100 + 10) / 4)
    assert totals["longest_wait_seconds"] == 100
    assert [entry["created"] for entry in body["series"]] == [0, 1, 4]
    assert _week_cells(body) == {(6, 10): 1, (0, 10): 4}
    agents = {row["label"]: row for row in body["tables"]["agent"]}
    assert (agents["ana"]["answered"], agents["ana"]["resolved"], agents["ben"]["resolved"]) == (3, 3, 1)
    assert {row["value"]: row["created"] for row in body["tables"]["language"]} == {"es": 4, "en": 1}

    general = client.get("/api/v1/reports/overview/",
                         {"start": "2026-02-28", "end": "2026-03-02", "queue": "general"}).json()
    assert general["totals"]["created"] == 4
    assert _week_cells(general) == {(6, 10): 1, (0, 10): 3}


def _week_cells(body: dict) -> dict[tuple[int, int], int]:
    return {(cell["weekday"], cell["hour"]): cell["arrived"] for cell in body["hour_of_week"] if cell["arrived"]}


@pytest.mark.parametrize(("params", "code"), [
    ({"start": "2026-13-01", "end": "2026-03-02"}, "invalid_date"),
    ({"start": "2026-03-02"}, "invalid_range"),
    ({"start": "2026-03-05", "end": "2026-03-02"}, "invalid_range"),
    ({"start": "2020-01-01", "end": "2026-03-02"}, "invalid_range"),
    ({"range": "year"}, "invalid_range"),
    ({"queue": "nope"}, "invalid_filter"),
    ({"channel": "fax"}, "invalid_filter"),
    ({"language": "'; drop"}, "invalid_filter"),
    ({"agent": "x"}, "invalid_filter"),
    ({"contact_reason": "nope"}, "invalid_filter"),
])
def test_bad_parameters_are_a_clear_400(desk, params, code):
    response = client_for(SupervisorFactory()).get("/api/v1/reports/overview/", params)
    assert response.status_code == 400 and response.json()["error"]["code"] == code


def test_an_agent_sees_the_desk_figures_and_only_their_own_agent_row(desk):
    client = client_for(desk["ana"])
    body = client.get("/api/v1/reports/overview/", RANGE).json()
    assert body["totals"]["created"] == 4
    assert [row["label"] for row in body["tables"]["agent"]] == ["ana"]
    assert [choice["label"] for choice in body["choices"]["agent"]] == ["ana"]
    response = client.get("/api/v1/reports/overview/", {**RANGE, "agent": desk["ben_profile"].pk})
    assert response.status_code == 403


def test_the_drill_down_lists_the_conversations_behind_a_number(desk):
    client = client_for(SupervisorFactory())
    abandoned = client.get("/api/v1/reports/conversations/", {**RANGE, "metric": "abandoned"}).json()
    assert abandoned["count"] == 1 and abandoned["results"][0]["status"] == "closed"
    by_queue = client.get("/api/v1/reports/conversations/", {
        **RANGE, "metric": "created", "dimension": "queue", "value": desk["general"].pk}).json()
    assert by_queue["count"] == 3
    ana = client.get("/api/v1/reports/conversations/", {
        **RANGE, "metric": "resolved", "dimension": "agent", "value": desk["ana_profile"].pk}).json()
    assert ana["count"] == 2
    cell = client.get("/api/v1/reports/conversations/", {
        **RANGE, "metric": "arrived", "weekday": 0, "hour_of_day": 10}).json()
    assert cell["count"] == 4
    assert client.get("/api/v1/reports/conversations/", {**RANGE, "metric": "nope"}).status_code == 400
    # An agent's drill-down lists only conversations they may see (theirs as assignee: none here).
    assert client_for(desk["ana"]).get("/api/v1/reports/conversations/", {
        **RANGE, "metric": "created"}).json()["count"] == 0


def test_the_drill_down_page_links_each_conversation(desk, client):
    client.force_login(SupervisorFactory())
    page = client.get("/desk/reports/conversations/", {**RANGE, "metric": "abandoned"})
    assert page.status_code == 200 and page.content.decode().count('data-testid="drill-row"') == 1
    assert client.get("/desk/reports/conversations/", {**RANGE, "metric": "x"}).status_code == 400


def test_exports_hold_the_tables_figures(desk, client):
    client.force_login(SupervisorFactory())
    response = client.get("/desk/reports/export/", {**RANGE, "table": "queue", "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert 'filename="report-queue-2026-03-02-2026-03-02.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, general = rows[0], next(row for row in rows if row[0] == str(desk["general"].pk))
    assert general[header.index("Service level (%)")] == "66.7"
    assert general[header.index("Created")] == "3"

    response = client.get("/desk/reports/export/", {**RANGE, "table": "agent", "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = list(sheet.values)
    assert values[0][1] == "Name" and {row[1] for row in values[1:]} == {"ana", "ben"}

    assert client.get("/desk/reports/export/", {**RANGE, "table": "nope"}).status_code == 400
    assert client.get("/desk/reports/export/", {**RANGE, "table": "queue", "format": "pdf"}).status_code == 400


def test_a_contact_name_that_looks_like_a_formula_is_exported_as_text():
    from reports.exports import _safe

    assert _safe("=HYPERLINK(1)") == "'=HYPERLINK(1)" and _safe("Ana") == "Ana" and _safe(3) == 3
