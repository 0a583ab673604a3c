"""The reports page in a real browser. A supervisor opens the reports, changes the range and a
filter and sees the charts redraw with the new figures, drills into a number and lands on the
conversations behind it, comes back, and downloads a table as CSV, over hand-built histories
counted by the rollups (the figures are worked out here). And, with the API's answers played
by the test: the figures worded as the live view words them, and a refusal or an outage shown
as a message, never a blank page."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from playwright.sync_api import expect

from conversations.live import duration_text
from reports import rollups
from reports.filters import today
from tests.browser.desk import PASSWORD, desk_prepare
from tests.conversations.test_live import supervisor_make
from tests.reports import story

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

API = re.compile(r"/api/v1/reports/overview/")


@pytest.fixture(autouse=True)
def _desk(settings):
    desk_prepare(settings)


def _sign_in(page, url: str) -> None:
    supervisor = supervisor_make()
    page.goto(f"{url}/desk/reports/")
    page.fill("input[name=username]", supervisor.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/desk/reports/**")


def _drawn(page, generation: int) -> None:
    """Wait for the page's `generation`-th answer to be drawn."""
    reports = page.get_by_test_id("reports")
    expect(reports).to_have_attribute("data-generation", str(generation))
    expect(reports).to_have_attribute("data-state", "ready")


def _total(page, metric: str):
    return page.locator(f"[data-testid=table-totals] tr[data-metric={metric}] td[data-metric={metric}]")


def _chart(page, key: str) -> dict:
    """What a Chart.js chart holds now: its labels and each dataset's label and data."""
    return page.evaluate("""key => {
        const chart = window.reportsCharts[key];
        const datasets = chart.data.datasets.map(d => ({label: d.label, data: d.data}));
        return {labels: chart.data.labels, datasets};
    }""", key)


def _noon(days_ago: int) -> datetime:
    return datetime.combine(today() - timedelta(days=days_ago), time(12), tzinfo=ZoneInfo(settings.TIME_ZONE))


def _answered_chat(days_ago: int, in_queue) -> int:
    """A chat created at noon `days_ago` days back, answered after 30 s and resolved an hour later."""
    created = _noon(days_ago)
    agent = story.agent()
    record = story.conversation(created=created)
    story.item(record, in_queue, enqueued=created, state="completed", answered=created + timedelta(seconds=30),
               completed=created + timedelta(hours=1),
               history=[("offered", created + timedelta(seconds=10), agent),
                        ("accepted", created + timedelta(seconds=30), agent),
                        ("completed", created + timedelta(hours=1), agent)])
    story.status(record, "resolved", created + timedelta(hours=1))
    return record.pk


def test_a_supervisor_changes_range_and_filter_drills_in_and_downloads(asgi_server, browser):
    general, vip = story.queue("general"), story.queue("vip")
    # Given three chats: yesterday and 15 days ago in General, two days ago in Vip.
    yesterday, fortnight, in_vip = _answered_chat(1, general), _answered_chat(15, general), _answered_chat(2, vip)
    rollups.conversations_refresh([yesterday, fortnight, in_vip])

    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _sign_in(page, asgi_server.url)

    # The last 7 days: two chats, seven days on the charts, both queues.
    _drawn(page, 1)
    expect(_total(page, "created")).to_have_text("2")
    volume = _chart(page, "volume")
    assert len(volume["labels"]) == 7
    assert sum(value or 0 for value in volume["datasets"][0]["data"]) == 2
    expect(page.get_by_test_id("chart-volume")).to_have_attribute("data-points", "7")
    assert sorted(_chart(page, "queue")["labels"]) == ["General", "Vip"]

    # 30 days: the chat of a fortnight ago joins; the charts redraw with thirty days.
    page.get_by_test_id("range-30").click()
    _drawn(page, 2)
    assert "range=30" in page.url
    expect(page.get_by_test_id("range-30")).to_have_attribute("aria-pressed", "true")
    expect(_total(page, "created")).to_have_text("3")
    volume = _chart(page, "volume")
    assert len(volume["labels"]) == 30
    assert sum(value or 0 for value in volume["datasets"][0]["data"]) == 3

    # Only General: Vip's chat leaves the figures and the queue chart.
    page.get_by_test_id("filter-queue").select_option("general")
    _drawn(page, 3)
    assert "queue=general" in page.url
    expect(_total(page, "created")).to_have_text("2")
    assert _chart(page, "queue")["labels"] == ["General"]
    queue_row = page.locator("[data-testid=table-queue] tbody tr")
    expect(queue_row).to_have_count(1)
    expect(queue_row.locator("td[data-metric=created]")).to_have_text("2")

    # The number drills into the two conversations behind it.
    _total(page, "created").get_by_role("link").click()
    page.wait_for_url("**/desk/reports/conversations/**")
    shown = page.get_by_test_id("drill-conversation").all_inner_texts()
    assert sorted(int(text.strip().lstrip("#")) for text in shown) == sorted([yesterday, fortnight])

    # Back on the report: the same range and filter, the same figures.
    page.go_back()
    page.wait_for_url(re.compile(r"/desk/reports/\?"))
    expect(page.get_by_test_id("filter-queue")).to_have_value("general")
    expect(page.get_by_test_id("reports")).to_have_attribute("data-state", "ready")
    expect(_total(page, "created")).to_have_text("2")

    # The queue table as CSV: General's row with its two chats.
    with page.expect_download() as download_info:
        page.get_by_test_id("export-queue-csv").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    with open(download.path(), encoding="utf-8-sig") as file:
        rows = list(csv.reader(io.StringIO(file.read())))
    header, body = rows[0], rows[1:]
    created_column = next(index for index, name in enumerate(header) if name.lower().startswith("created"))
    assert [(row[1], row[created_column]) for row in body] == [("General", "2")]
    context.close()
    assert not errors, errors


# --- with the API's answers played by the test --------------------------------------------------

METRICS = [{"key": "created", "label": "Created", "format": "count", "help": "Conversations created."},
           {"key": "service_level", "label": "Service level", "format": "percent", "help": "Answered in time."},
           {"key": "asa_seconds", "label": "Average speed of answer", "format": "seconds", "help": "Wait."},
           {"key": "rating_average", "label": "Average rating", "format": "number", "help": "1 to 5."}]


def _report(start: str, end: str) -> dict:
    days = [f"2026-11-{day:02d}" for day in range(1, 8)]
    series = [{"at": f"{day}T00:00:00+01:00", "label": day[-2:], "created": 10, "resolved": 8, "backlog": 2,
               "service_level": 0.8, "asa_seconds": 40.0, "rating_average": None} for day in days]
    row = {"value": "general", "label": "General", "created": 12345, "service_level": 0.83,
           "asa_seconds": 65.4, "rating_average": 4.25}
    return {
        "range": {"start": start, "end": end, "time_zone": "Europe/Madrid", "interval": "day"},
        "previous_range": None, "metrics": METRICS, "previous": None, "previous_series": None,
        "totals": {key: value for key, value in row.items() if key not in ("value", "label")},
        "series": series,
        "hour_of_week": [{"weekday": day, "hour": hour, "created": day + hour, "arrived": 0, "service_level": None}
                         for day in range(7) for hour in range(24)],
        "tables": {"queue": [row], "language": [], "channel": [], "contact_kind": [], "contact_reason": [],
                   "agent": []},
        "agent_metrics": [{"key": "answered", "label": "Answered", "format": "count"}],
        "choices": {"queue": [{"value": "general", "label": "General"}], "channel": [], "language": [],
                    "contact_kind": [], "contact_reason": [], "agent": []},
    }


def test_the_figures_read_as_the_desk_words_them_and_errors_show(asgi_server, page):
    answers = [("200", None)]

    def answer(route):
        status, message = answers[-1]
        if status == "200":
            route.fulfill(status=200, content_type="application/json", body=json.dumps(_report("2026-11-01",
                                                                                              "2026-11-07")))
        else:
            route.fulfill(status=int(status), content_type="application/json",
                          body=json.dumps({"error": {"code": "invalid_range", "message": message}}))

    page.route(API, answer)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _sign_in(page, asgi_server.url)
    _drawn(page, 1)

    expect(_total(page, "created")).to_have_text("12,345")
    expect(_total(page, "service_level")).to_have_text("83 %")
    expect(_total(page, "asa_seconds")).to_have_text("1m 05s")
    expect(_total(page, "rating_average")).to_have_text("4.25")
    expect(page.get_by_test_id("reports-status")).to_contain_text("2026-11-01")
    link = _total(page, "created").get_by_role("link").get_attribute("href")
    assert link.startswith("/desk/reports/conversations/?") and "metric=created" in link
    export = page.get_by_test_id("export-queue-xlsx").get_attribute("href")
    assert "table=queue" in export and "format=xlsx" in export
    queue_link = page.locator("[data-testid=table-queue] td[data-metric=created] a").get_attribute("href")
    assert "dimension=queue" in queue_link and "value=general" in queue_link
    # The hour of the week: Tuesday 03:00 holds 1 + 3.
    expect(page.locator("[data-testid=table-hour-of-week] tbody tr").nth(1).locator("td").nth(3)).to_have_text("4")

    # Durations read the same as the live view's (conversations/live.py): one wording.
    samples = [0, 5, 59.9, 60, 65, 3599, 3600, 7380, None]
    worded = page.evaluate("""async samples => {
        const format = await import("/static/reports/format.js");
        return samples.map(format.durationText);
    }""", samples)
    assert worded == [duration_text(sample) for sample in samples]

    # A refused request shows the API's message, and the controls stay to try another.
    answers.append(("400", "end comes before start."))
    page.get_by_test_id("range-30").click()
    error = page.get_by_test_id("reports-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("end comes before start.")
    expect(page.get_by_test_id("reports")).to_have_attribute("data-state", "error")
    assert "range=30" in page.url

    # An outage says so too; the next good answer clears it.
    answers.append(("503", "The reports cannot be read now; try again shortly."))
    page.get_by_test_id("compare").check()
    expect(error).to_contain_text("try again shortly")
    answers.append(("200", None))
    page.get_by_test_id("range-7").click()
    _drawn(page, 2)
    expect(error).to_be_hidden()
    assert not errors, errors
