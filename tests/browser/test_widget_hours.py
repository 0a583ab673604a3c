"""Outside business hours the chat widget, in a real browser, says when the team is back, on
the visitor's clock and in their language, and links to email instead."""

from __future__ import annotations

import uuid
from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from routing import business_hours, schedules, services
from routing.models import BusinessHours, Queue
from routing.services import HolidayRow, IntervalRow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _desk(settings):
    settings.REDIS_KEY_PREFIX = f"test-{uuid.uuid4().hex}"  # rate-limit counters of this test only


def test_a_visitor_after_hours_sees_when_the_team_is_back_and_an_email_link(asgi_server, browser):
    # given the default queue keeps office hours, closed whatever the time now (four holidays)
    today = timezone.now().astimezone(ZoneInfo("Europe/Madrid")).date()
    hours = services.business_hours_save(
        hours=BusinessHours(name="Office", time_zone="Europe/Madrid"), actor=None,
        intervals=[IntervalRow(weekday=day, opens_at=time(9), closes_at=time(18)) for day in range(7)],
        holidays=[HolidayRow(date=today + timedelta(days=days)) for days in range(-1, 3)])
    Queue.objects.create(key="general", name="General", business_hours=hours)
    back_at = business_hours.next_open(schedules.schedule_for_hours(hours.pk), timezone.now())
    on_their_clock = back_at.astimezone(ZoneInfo("America/Bogota"))

    # when a Spanish-speaking visitor in Bogotá opens the chat on the shop's page
    context = browser.new_context(locale="es-ES", timezone_id="America/Bogota")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(asgi_server.url + "/widget/demo/")
    page.get_by_test_id("supportdesk-launcher").click()
    chat = page.frame_locator("[data-testid=supportdesk-frame]")

    # then the widget says, in Spanish, when the team is back on their clock, and offers email
    notice = chat.get_by_test_id("hours-notice")
    expect(notice).to_be_visible()
    expect(chat.get_by_test_id("hours-text")).to_contain_text("Ahora mismo estamos cerrados. Volvemos")
    expect(chat.get_by_test_id("hours-text")).to_contain_text(f"a las {on_their_clock:%H:%M}")
    email = chat.get_by_test_id("hours-email")
    expect(email).to_have_attribute("href", "mailto:support@supportdesk.local")
    expect(email).to_have_text("Escríbenos por correo electrónico: support@supportdesk.local")
    expect(chat.get_by_test_id("composer")).to_be_editable()  # a message may still wait for the team
    context.close()
    assert errors == []
