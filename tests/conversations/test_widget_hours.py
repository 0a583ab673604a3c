"""Outside the business hours of the queue a visitor's chat would reach, the widget says when
the team is back (on the visitor's clock, in their language) and offers email instead
(conversations/widget_hours.py, through POST /widget/session)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone, translation

from conversations import widget, widget_hours
from routing import services
from routing.models import BusinessHours, Queue, RoutingRule
from routing.services import IntervalRow
from timeline.models import ContactKind

pytestmark = pytest.mark.django_db

MADRID = ZoneInfo("Europe/Madrid")
FRIDAY_NIGHT = datetime(2026, 3, 27, 21, 0, tzinfo=MADRID)


@pytest.fixture(autouse=True)
def _own_counters(settings):
    """Rate-limit counters of other runs on the same Redis stay out of this test's."""
    settings.REDIS_KEY_PREFIX = f"test-{uuid.uuid4().hex}"


@pytest.fixture
def office() -> BusinessHours:
    """Weekdays 08:00-20:00 in Madrid, for chat.es and the default queue; chat.en keeps none."""
    hours = services.business_hours_save(
        hours=BusinessHours(name="Office", time_zone="Europe/Madrid"), actor=None,
        intervals=[IntervalRow(weekday=day, opens_at=time(8), closes_at=time(20)) for day in range(5)])
    Queue.objects.create(key="chat.es", name="Chat ES", business_hours=hours)
    Queue.objects.create(key="general", name="General", business_hours=hours)
    Queue.objects.create(key="chat.fr", name="Chat FR")
    RoutingRule.objects.create(name="chat by language", position=10, queue_key="chat.{language}",
                               condition={"attribute": "channel", "op": "eq", "value": "chat"})
    return hours


def start_session(client, monkeypatch, *, at: datetime = FRIDAY_NIGHT, language: str = "", **body) -> dict:
    """POST /widget/session at `at` on the desk's clock (the identity token is signed before)."""
    if language:
        # Signed on the real clock, to outlive the desk's clock set back to `at`.
        body["identity"] = widget.identity_encode(
            widget.Identity(external_id=f"C-{language}", kind=ContactKind.CUSTOMER, language=language),
            lifetime=timedelta(days=3650))
    monkeypatch.setattr(timezone, "now", lambda: at)
    response = client.post("/widget/session", data=json.dumps(body), content_type="application/json",
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200, response.content
    return response.json()


def test_a_spanish_customer_after_hours_is_told_when_the_team_is_back_and_offered_email(
        client, monkeypatch, office, settings):
    settings.SUPPORT_EMAIL_ADDRESS = "ayuda@tienda.example"

    hours = start_session(client, monkeypatch, language="es", time_zone="Europe/Madrid")["hours"]

    assert hours == {
        "back_at": "2026-03-30T06:00:00+00:00",
        "text": "Ahora mismo estamos cerrados. Volvemos el lunes, 30 de marzo, a las 08:00.",
        "email": "ayuda@tienda.example",
        "email_text": "Escríbenos por correo electrónico: ayuda@tienda.example",
    }


def test_the_time_is_on_the_visitors_clock_or_else_named_in_the_queues_zone(client, monkeypatch, office):
    # An anonymous visitor: a customer in their browser's language (English: no chat.en queue,
    # so the default queue, which keeps office hours).
    in_bogota = start_session(client, monkeypatch, time_zone="America/Bogota")["hours"]
    assert in_bogota["text"] == "We are closed right now. We are back at 1 a.m. on Monday, March 30."
    assert in_bogota["email"] == "support@supportdesk.local"

    unknown = start_session(client, monkeypatch, time_zone="Mars/Olympus_Mons")["hours"]
    assert unknown["text"] == ("We are closed right now. We are back at 8 a.m. on Monday, March 30. "
                               "(Times in Europe/Madrid.)")


def test_while_the_queue_is_open_or_keeps_no_hours_there_is_no_notice(client, monkeypatch, office):
    monday_morning = datetime(2026, 3, 30, 9, 0, tzinfo=MADRID)

    assert start_session(client, monkeypatch, at=monday_morning, language="es")["hours"] is None
    # A French customer's chat goes to chat.fr, which keeps no hours: always open.
    assert start_session(client, monkeypatch, language="fr")["hours"] is None


def test_a_bad_time_zone_is_a_clear_error(client):
    response = client.post("/widget/session", data=json.dumps({"time_zone": ["Europe/Madrid"]}),
                           content_type="application/json")

    assert response.status_code == 400
    assert "time_zone must be an IANA time zone name" in response.json()["error"]["message"]


@pytest.mark.parametrize(("at", "expected"), [
    (datetime(2026, 3, 30, 7, 0, tzinfo=MADRID), "We are closed right now. We are back at 8 a.m. today."),
    (datetime(2026, 3, 26, 21, 0, tzinfo=MADRID), "We are closed right now. We are back at 8 a.m. tomorrow."),
])
def test_back_today_or_tomorrow(office, at, expected):
    opening = widget_hours.visitor_opening(contact=None, language="es", now=at)

    with translation.override("en"):
        text = widget_hours.back_text(opening.back_at, zone=MADRID, now=at, zone_named=False)

    assert not opening.is_open and text == expected
