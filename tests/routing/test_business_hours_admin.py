"""Supervisors edit business hours in the admin: intervals and holidays as rows, every
mistake a clear form error, every save audited with the rows before and after, and hours a
queue keeps cannot be deleted."""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest

from routing.models import BusinessHours, Holiday, OpeningInterval, Queue, RoutingAudit
from tests.routing.admin_forms import form_errors, queue_data, url

pytestmark = pytest.mark.django_db


def hours_data(intervals: list[tuple] = (), holidays: list[tuple] = (), *, hours: BusinessHours | None = None,
               **fields: Any) -> dict[str, Any]:
    """The form with its rows: the saved rows of `hours` as they are, then new ones
    ((weekday, opens, closes) and (date, name) as typed)."""
    data = {"name": "Office", "time_zone": "Europe/Madrid", **fields}
    saved = list(hours.intervals.order_by("id")) if hours else []
    rows = [(row.weekday, f"{row.opens_at:%H:%M}", f"{row.closes_at:%H:%M}", row.pk) for row in saved]
    rows += [(*row, "") for row in intervals]
    data.update({"intervals-TOTAL_FORMS": len(rows), "intervals-INITIAL_FORMS": len(saved),
                 "intervals-MIN_NUM_FORMS": 0, "intervals-MAX_NUM_FORMS": 1000})
    for index, (weekday, opens, closes, pk) in enumerate(rows):
        data.update({f"intervals-{index}-weekday": weekday, f"intervals-{index}-opens_at": opens,
                     f"intervals-{index}-closes_at": closes, f"intervals-{index}-id": pk})
    saved_days = list(hours.holidays.order_by("id")) if hours else []
    days = [(f"{row.date:%Y-%m-%d}", row.name, row.pk) for row in saved_days] + [(*row, "") for row in holidays]
    data.update({"holidays-TOTAL_FORMS": len(days), "holidays-INITIAL_FORMS": len(saved_days),
                 "holidays-MIN_NUM_FORMS": 0, "holidays-MAX_NUM_FORMS": 1000})
    for index, (day, name, pk) in enumerate(days):
        data.update({f"holidays-{index}-date": day, f"holidays-{index}-name": name, f"holidays-{index}-id": pk})
    return data


WEEKDAYS = [(day, "08:00", "20:00") for day in range(5)]


def inline_errors(response) -> tuple[list[str], list[dict]]:
    formset = response.context["inline_admin_formsets"][0].formset
    return list(formset.non_form_errors()), [dict(form.errors) for form in formset.forms]


def test_hours_with_intervals_and_holidays_are_saved_and_audited(admin_client, admin_user):
    response = admin_client.post(url(BusinessHours, "add"), hours_data(
        [*WEEKDAYS, (5, "20:00", "24:00"), (6, "00:00", "02:00")], [("2026-12-25", "Christmas Day")]))

    assert response.status_code == 302, response.context and inline_errors(response)
    hours = BusinessHours.objects.get()
    saturday = OpeningInterval.objects.get(hours=hours, weekday=5)
    assert (saturday.opens_at, saturday.closes_at) == (time(20), time(0))  # 24:00 is stored as 00:00
    assert saturday.seconds == (5, 20 * 3600, 24 * 3600)
    assert list(hours.holidays.values_list("date", "name")) == [(date(2026, 12, 25), "Christmas Day")]
    created = RoutingAudit.objects.get(model="routing.businesshours", object_id=str(hours.pk))
    assert created.action == "created" and created.actor == admin_user
    assert created.after["time_zone"] == "Europe/Madrid" and len(created.after["intervals"]) == 7
    assert {"weekday": 5, "opens": "20:00", "closes": "24:00"} in created.after["intervals"]

    # when a supervisor adds a holiday
    admin_client.post(url(BusinessHours, "change", hours.pk), hours_data(
        hours=hours, holidays=[("2027-01-01", "New Year's Day")]))

    changed = RoutingAudit.objects.filter(model="routing.businesshours", action="changed").get()
    assert [day["date"] for day in changed.before["holidays"]] == ["2026-12-25"]
    assert [day["date"] for day in changed.after["holidays"]] == ["2026-12-25", "2027-01-01"]
    assert changed.before["intervals"] == changed.after["intervals"]
    page = admin_client.get(url(RoutingAudit, "change", changed.pk)).content.decode()
    assert "holidays" in page and "2027-01-01" in page


def test_an_unknown_time_zone_is_a_form_error(admin_client):
    response = admin_client.post(url(BusinessHours, "add"), hours_data(WEEKDAYS, time_zone="Europe/Madird"))

    assert form_errors(response) == {"time_zone": [
        "Unknown time zone 'Europe/Madird': use an IANA name such as Europe/Madrid or America/Bogota."]}
    assert not BusinessHours.objects.exists()


@pytest.mark.parametrize(("rows", "index", "field", "message"), [
    ([(0, "08:00", "14:00"), (0, "13:00", "20:00")], 0, "__all__",
     "It overlaps 13:00-20:00 on Monday: make the intervals of a day follow one another."),
    ([(0, "20:00", "08:00")], 0, "closes_at", "It closes at 08:00, not after it opens at 20:00."),
    ([(2, "09:00", "09:00")], 0, "closes_at", "It closes at 09:00, not after it opens at 09:00."),
    ([(0, "25:00", "26:00")], 0, "opens_at", "Enter a time as HH:MM, e.g. 08:00 or 17:30"),
    ([(0, "08:00", "24:30")], 0, "closes_at", "Enter a time as HH:MM, e.g. 08:00 or 17:30"),
    ([(0, "8h", "20:00")], 0, "opens_at", "Enter a time as HH:MM"),
])
def test_a_bad_interval_is_an_error_on_its_row_and_nothing_is_saved(admin_client, rows, index, field, message):
    response = admin_client.post(url(BusinessHours, "add"), hours_data(rows))

    assert response.status_code == 200
    _, forms = inline_errors(response)
    assert any(text.startswith(message) for text in forms[index][field]), forms
    assert not BusinessHours.objects.exists() and not OpeningInterval.objects.exists()


def test_hours_need_an_interval_and_a_date_is_a_holiday_once(admin_client):
    response = admin_client.post(url(BusinessHours, "add"), hours_data([], [("2026-12-25", "")]))
    assert inline_errors(response)[0] == [
        "Add at least one open interval: hours that never open would stop every service-level clock for good."]

    response = admin_client.post(url(BusinessHours, "add"), hours_data(
        WEEKDAYS, [("2026-12-25", "Christmas"), ("2026-12-25", "again")]))
    assert response.status_code == 200 and not Holiday.objects.exists()
    assert "holidays" in response.content.decode() and "Please correct the duplicate" in response.content.decode()


def test_a_queue_keeps_hours_that_then_cannot_be_deleted(admin_client):
    admin_client.post(url(BusinessHours, "add"), hours_data(WEEKDAYS))
    hours = BusinessHours.objects.get()

    response = admin_client.post(url(Queue, "add"), queue_data(key="email", business_hours=hours.pk))

    assert response.status_code == 302
    queue = Queue.objects.get(key="email")
    assert queue.business_hours == hours
    audit = RoutingAudit.objects.get(model="routing.queue", object_id=str(queue.pk))
    assert audit.after["business_hours"] == "Office"
    assert admin_client.post(url(BusinessHours, "delete", hours.pk), {"post": "yes"}).status_code == 403
    listing = admin_client.get(url(BusinessHours, "changelist")).content.decode()
    assert "email" in listing and "Monday 08:00-20:00" in listing

    queue.business_hours = None
    queue.save()
    assert admin_client.post(url(BusinessHours, "delete", hours.pk), {"post": "yes"}).status_code == 302
    assert not BusinessHours.objects.exists()


def test_the_hours_pages_open(admin_client):
    assert admin_client.get(url(BusinessHours, "add")).status_code == 200
    admin_client.post(url(BusinessHours, "add"), hours_data(WEEKDAYS, [("2026-12-25", "Christmas Day")]))
    hours = BusinessHours.objects.get()

    page = admin_client.get(url(BusinessHours, "change", hours.pk)).content.decode()
    assert "Europe/Madrid" in page and 'list="routing-time-zones"' in page
    assert admin_client.get(url(BusinessHours, "changelist")).status_code == 200
    assert admin_client.get(url(Queue, "add")).status_code == 200
