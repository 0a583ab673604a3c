"""Attacker's probes of the issue-12 pages and APIs: bad input is a 4xx or a form error, never a 500."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from supportdesk.demo.workflows import recovery_definition
from tests.factories import ContactFactory, ConversationFactory, SupervisorFactory
from workflows.services import workflow_save
from workflows.surveys.links import survey_token
from workflows.surveys.models import Survey, SurveyState

pytestmark = pytest.mark.django_db


def client_of(user=None) -> Client:
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def survey() -> Survey:
    contact = ContactFactory(preferred_language="es")
    from django.utils import timezone

    now = timezone.now()
    return Survey.objects.create(
        conversation=ConversationFactory(contact=contact, channel="email"),
        contact=contact,
        resolution_event_id=1,
        channel="email",
        queue_key="email",
        language="es",
        state=SurveyState.SENT,
        due_at=now,
        sent_at=now,
    )


BAD_TOKENS = ["%00", "a\x00b", "ñ" * 10, "..%2F..%2Fetc", "x" * 511, "e30:1abc:xyz", "%E2%80%AE"]


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_rating_page_with_garbage_tokens(token):
    client = client_of()
    url = f"/survey/rate/{token}/"
    assert client.get(url).status_code in (400, 404, 410)
    assert client.post(url, {"score": "5"}).status_code in (400, 403, 404, 410)


@pytest.mark.parametrize(
    "data",
    [
        {"score": "٣"},
        {"score": "5.5"},
        {"score": "99"},
        {"score": "-1"},
        {"score": ""},
        {"score": "\x00"},
        {"score": "5", "comment": "a\x00b"},
        {"score": "5", "comment": "x" * 1_000_000},
        {"score": ["1", "2"]},
        {"score": "1" * 400},
    ],
)
def test_rating_page_with_bad_posts(survey, data):
    response = client_of().post(f"/survey/rate/{survey_token(survey)}/", data)
    assert response.status_code in (200, 400), response.status_code


@pytest.mark.parametrize(
    "query",
    [
        "rated_after=9999-99-99",
        "rated_before=x",
        "agent=abc",
        "agent=99999999999999999999999",
        "score=٣",
        "score=abc",
        "score=1e400",
        "score=NaN",
        "contact=%00",
        "conversation=-1",
        "channel=fax",
        "contact_kind=x",
        "queue=%00",
        "language=a%00b",
        "cursor=garbage",
        "rated_after=2026-01-01T00:00:00%2B99:00",
    ],
)
def test_ratings_api_with_bad_filters(query):
    response = client_of(SupervisorFactory()).get(f"/api/v1/ratings/?{query}")
    assert response.status_code in (200, 400), (query, response.status_code)


@pytest.mark.parametrize(
    "path", ["/api/v1/ratings/abc/", "/api/v1/ratings/99999999999999999999999/", "/api/v1/ratings/0/"]
)
def test_ratings_api_with_bad_ids(path):
    assert client_of(SupervisorFactory()).get(path).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/desk/mailbox/99999999999999999999999/",
        "/desk/mailbox/0/",
        "/desk/mailbox/?page=abc",
        "/desk/mailbox/?page=99999999999999999999",
        "/desk/mailbox/?page=-1",
        "/desk/mailbox/?page=%00",
    ],
)
def test_mailbox_with_bad_ids(path):
    assert client_of(SupervisorFactory(is_staff=True)).get(path).status_code in (200, 404)


def _form(**changes):
    definition = recovery_definition()
    values = {
        "key": "recovery",
        "name": "Recovery",
        "description": "",
        "trigger": definition["trigger"],
        "conditions": definition["conditions"],
        "steps": definition["steps"],
        "run_key": "",
        "limit_count": "1",
        "limit_days": "7",
        "max_depth": "",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "0",
    }
    values.update(changes)
    return {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in values.items() if v is not None}


BAD_WORKFLOW_FIELDS = [
    {"steps": "[" * 5000 + "]" * 5000}, {"trigger": "[" * 5000 + "]" * 5000},
    {"steps": json.dumps([{"action": "add_tags", "params": {"tags": ["a\x00b"]}}])},
    {"conditions": json.dumps({"all": [{"attribute": "contact.tags", "op": "contains", "value": "\x00"}]})},
    {"trigger": "{not json"},
    {"trigger": "[]"},
    {"trigger": "null"},
    {"trigger": "1"},
    {"trigger": "\x00"},
    {"conditions": "{bad"},
    {"conditions": '"x"'},
    {"conditions": "[1, 2]"},
    {"steps": "{}"},
    {"steps": "[1]"},
    {"steps": "[null]"},
    {"steps": json.dumps([{"action": "wait", "minutes": -5}])},
    {"steps": json.dumps([{"action": "wait", "minutes": 10**12}])},
    {"steps": json.dumps([{"action": "wait", "minutes": "ten"}])},
    {"steps": json.dumps([{"action": "post_url", "url": "http://127.0.0.1/x"}])},
    {"steps": json.dumps([{"action": "post_url", "url": "file:///etc/passwd"}])},
    {"trigger": json.dumps({"kind": "timer", "event": "order.delayed", "minutes": -1})},
    {"trigger": json.dumps({"kind": "timer", "event": "order.delayed", "minutes": 10**15})},
    {"trigger": json.dumps({"kind": "schedule", "cron": "garbage", "segment": 1})},
    {"trigger": json.dumps({"kind": "schedule", "cron": "99 99 * * *", "segment": 1})},
    {"trigger": json.dumps({"kind": "schedule", "cron": "* * * * *", "segment": "abc"})},
    {"trigger": json.dumps({"kind": "schedule", "cron": "* * * * *", "segment": 10**30})},
    {"run_key": "{nonexistent.field}"},
    {"run_key": "{contact.id"},
    {"run_key": "{0}"},
    {"run_key": "{__class__}"},
    {"run_key": "{contact.__class__}"},
    {"run_key": "x" * 5000},
    {"limit_days": str(10**12)},
    {"limit_days": "-1"},
    {"limit_count": str(10**12)},
    {"limit_count": "abc"},
    {"max_depth": str(10**12)},
    {"max_depth": "-3"},
    {"key": "x" * 1000},
    {"key": "a\x00b"},
    {"name": "a\x00b"},
]


@pytest.mark.parametrize("fields", BAD_WORKFLOW_FIELDS)
def test_workflow_admin_add_with_bad_fields(fields):
    client = client_of(SupervisorFactory(is_staff=True))
    response = client.post(reverse("admin:workflows_workflow_add"), _form(**fields))
    assert response.status_code in (200, 302, 400), (fields, response.status_code)
    dry = client.post(reverse("admin:workflows_workflow_dry_run"), _form(days="7", **fields))
    assert dry.status_code in (200, 400), (fields, dry.status_code)


@pytest.mark.parametrize("days", ["-1", str(10**9), str(10**30), "abc", "\x00", "1.5", "٣"])
def test_dry_run_with_bad_days(days):
    client = client_of(SupervisorFactory(is_staff=True))
    workflow, _version = workflow_save(key="w", name="W", definition=recovery_definition())
    saved = client.get(reverse("admin:workflows_workflow_dry_run_saved", args=[workflow.pk]), {"days": days})
    draft = client.post(reverse("admin:workflows_workflow_dry_run"), _form(key="", days=days))
    assert saved.status_code in (200, 400), (days, saved.status_code)
    assert draft.status_code in (200, 400), (days, draft.status_code)
