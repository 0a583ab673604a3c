"""The staffing page (/desk/reports/staffing/): who may see it, the week it shows, bad input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.utils import translation

from reports.forecast import next_week_start
from reports.models import HourRollup
from tests.factories import AgentFactory, UserFactory
from tests.reports import story

pytestmark = pytest.mark.django_db

URL = "/desk/reports/staffing/"


def test_an_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response.url == f"{resolve_url(settings.LOGIN_URL)}?next={URL}"


@pytest.mark.parametrize("make_user", [AgentFactory, lambda: UserFactory(is_staff=True)])
def test_anyone_but_a_supervisor_gets_the_forbidden_page(client, make_user):
    client.force_login(make_user())

    response = client.get(URL, {"queue": story.queue().key})

    assert response.status_code == 403
    assert "reports/staffing_forbidden.html" in [template.name for template in response.templates]
    assert b"Supervisors only" in response.content


def test_a_supervisor_sees_the_coming_week_of_the_first_queue_by_default(supervisor_client):
    story.queue("billing")
    story.queue("general")

    response = supervisor_client.get(URL)

    assert response.status_code == 200
    week = response.context["week"]
    assert (week.queue.key, week.week_start, week.channel) == ("billing", next_week_start(), "")
    html = response.content.decode()
    assert html.count('data-testid="staffing-cell"') == 168
    assert 'value="billing" selected' in html


def test_an_hour_short_of_agents_is_marked(supervisor_client):
    general = story.queue()
    HourRollup.objects.create(hour=datetime(2026, 3, 2, 10, tzinfo=UTC), queue_id=general.pk, channel="chat",
                              arrived=100)

    response = supervisor_client.get(URL, {"queue": "general", "week": "2026-03-09", "channel": "chat"})

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('data-short="true"') == 1  # Monday 10:00: work forecast, nobody online
    assert 'data-day="2026-03-09" data-hour="10" data-short="true"' in html
    assert response.context["grid"]["short"] == 1
    assert 'href="?queue=general&amp;channel=chat&amp;week=2026-03-16"' in html


def test_a_desk_without_queues_says_so(supervisor_client):
    response = supervisor_client.get(URL)

    assert response.status_code == 200
    assert b"No queues yet" in response.content


@pytest.mark.parametrize(("query", "words"), [
    ({"queue": "nowhere"}, b"No queue has this key."),
    ({"queue": "general", "week": "2026-02-30"}, b"week: "),
    ({"queue": "general", "week": "1999-12-27"}, b"The week must start between"),
    ({"queue": "general", "channel": "fax"}, b"channel: "),
])
def test_bad_input_is_a_400_page_that_says_what_was_wrong(supervisor_client, query, words):
    story.queue()

    response = supervisor_client.get(URL, query)

    assert response.status_code == 400
    assert b'data-testid="staffing-problem"' in response.content and words in response.content
    assert b'data-testid="staffing-form"' in response.content  # to try again


def test_the_page_has_its_words_in_spanish(supervisor_client):
    story.queue()

    with translation.override("es"):
        response = supervisor_client.get(URL)

    html = response.content.decode()
    assert "Dotación de agentes" in html and "Semana siguiente →" in html
    assert "La semana pasada faltaron agentes en 0 horas de la semana." in html
