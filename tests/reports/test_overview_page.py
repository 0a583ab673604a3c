"""/desk/reports/: the reports page is a frame for every desk user (the reports API decides which
figures each one sees); strangers are sent to log in, accounts that are not the desk's refused.
The page carries the controls, the charts' canvases, the tables and the export links, and hands
its script the addresses, the desk's date and the words it writes."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django.utils import translation

from reports import overview_page
from reports.filters import today
from tests.factories import AgentFactory, SupervisorFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/desk/reports/"


def _json_script(content: str, element_id: str) -> dict:
    start = content.index(f'id="{element_id}"')
    start = content.index(">", start) + 1
    return json.loads(content[start:content.index("</script>", start)])


def test_the_page_is_routed_under_the_desk():
    assert reverse("reports-overview") == URL


def test_a_supervisor_gets_the_page_with_every_control(client):
    client.force_login(SupervisorFactory())

    response = client.get(URL)

    assert response.status_code == 200
    content = response.content.decode()
    for testid in ("range-today", "range-7", "range-30", "range-start", "range-end", "compare",
                   "filter-queue", "filter-channel", "filter-language", "filter-contact_kind",
                   "filter-contact_reason", "filter-agent", "reports-status", "reports-error",
                   "chart-volume", "chart-service-level", "chart-queue", "chart-language",
                   "table-totals", "table-hour-of-week", "table-queue", "table-language", "table-channel",
                   "table-contact_kind", "table-contact_reason", "table-agent", "table-series"):
        assert f'data-testid="{testid}"' in content, testid
    for table in ("totals", "series", "hour_of_week", "queue", "language", "channel", "contact_kind",
                  "contact_reason", "agent"):
        assert f'data-testid="export-{table}-csv"' in content and f'data-testid="export-{table}-xlsx"' in content
    # Every input is labelled: the selects and dates sit inside their <label>.
    assert content.count("<label") >= 9
    assert "vendor/chart.js-4.6.1/chart.umd.min.js" in content and "reports/reports.js" in content


def test_the_script_is_given_addresses_today_and_words(client):
    client.force_login(SupervisorFactory())

    content = client.get(URL).content.decode()

    config = _json_script(content, "reports-config")
    assert config["api_url"] == "/api/v1/reports/overview/"
    assert config["drill_url"] == "/desk/reports/conversations/"
    assert config["export_url"] == "/desk/reports/export/"
    assert config["today"] == today().isoformat()
    assert config["dimensions"] == list(overview_page.DIMENSIONS)
    labels = _json_script(content, "reports-labels")
    assert labels["weekdays"][0] == "Mon" and len(labels["weekdays"]) == 7
    assert set(labels["all"]) == set(overview_page.DIMENSIONS) == set(labels["dimensions"])


def test_the_page_and_its_script_have_their_words_in_spanish(client):
    client.force_login(SupervisorFactory())

    with translation.override("es"):
        content = client.get(URL).content.decode()

    assert "<h1>Informes</h1>" in content and "Comparar con el periodo anterior" in content
    assert "Todas las colas" in content  # the queue filter's first choice
    assert "Variación" in content and "Modificar" not in content  # not the admin's "Change"
    labels = _json_script(content, "reports-labels")
    assert labels["loading"] == "Cargando los informes…" and labels["weekdays"][0] == "lun"
    assert _json_script(content, "reports-config")["language"] == "es"


def test_an_agent_gets_the_page_too(client):
    client.force_login(AgentFactory())

    response = client.get(URL)

    assert response.status_code == 200
    assert 'data-testid="reports-controls"' in response.content.decode()


def test_a_stranger_is_sent_to_log_in(client):
    response = client.get(URL + "?range=30&queue=general")

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("desk:login"))
    assert "next=/desk/reports/%3Frange%3D30%26queue%3Dgeneral" in response["Location"]


def test_an_account_that_is_not_the_desks_is_refused(client):
    client.force_login(UserFactory())

    assert client.get(URL).status_code == 403


def test_the_desk_links_to_the_reports(client):
    client.force_login(AgentFactory())

    assert 'data-testid="reports-link"' in client.get("/").content.decode()
    client.force_login(SupervisorFactory())
    assert URL in client.get(reverse("desk-live")).content.decode()
