"""Segments, campaigns and survey settings in the admin with malformed input: form errors, never a 500."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import SupervisorFactory
from workflows.segments.models import Segment

pytestmark = pytest.mark.django_db

BAD_CONDITIONS = [
    "{bad",
    "[]",
    "null",
    "1",
    '"x"',
    "\x00",
    json.dumps({"all": [{"attribute": "nope", "op": "eq", "value": 1}]}),
    json.dumps({"all": [{"attribute": "contact.lifetime_order_value", "op": "gte", "value": "abc"}]}),
    json.dumps({"all": [{"attribute": "contact.lifetime_order_value", "op": "gte", "value": 10**40}]}),
    json.dumps({"all": [{"attribute": "contact.lifetime_order_value", "op": "gte", "value": 1e308}]}),
    json.dumps({"all": [{"attribute": "contact.tags", "op": "contains", "value": "a\x00b"}]}),
    json.dumps({"all": [{"attribute": "contact.conversations_days", "op": "gte", "value": 10**12}]}),
    json.dumps({"all": [{"attribute": "contact.had_delayed_order_days", "op": "lte", "value": -1}]}),
    json.dumps({"any": "x"}),
    json.dumps({"all": [[[[]]]]}),
    json.dumps({"all": [None]}),
    json.dumps({"x": 1}),
    "[" * 5000 + "]" * 5000,
]


@pytest.fixture
def client() -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(SupervisorFactory(is_staff=True))
    return client


@pytest.mark.parametrize("conditions", BAD_CONDITIONS)
def test_segment_add_and_preview_with_bad_conditions(client, conditions):
    add = client.post(
        reverse("admin:workflows_segment_add"),
        {"name": "S", "key": "s", "description": "", "conditions": conditions, "is_active": "on"},
    )
    preview = client.post(reverse("admin:workflows_segment_preview"), {"conditions": conditions, "_fragment": "1"})
    get_preview = client.get(reverse("admin:workflows_segment_preview"), {"conditions": conditions})
    assert add.status_code in (200, 302) and preview.status_code == 200 and get_preview.status_code == 200, (
        add.status_code,
        preview.status_code,
        get_preview.status_code,
    )


BAD_TEXTS = [
    "{bad",
    "[]",
    "null",
    '{"en": 1}',
    '{"en": {"subject": 1}}',
    '{"en": {"subject": "a", "body": "{{ x.y }}"}}',
    '{"en": {"subject": "a", "body": "{{ contact.__class__ }}"}}',
    '{"\\u0000": {"subject": "a", "body": "b"}}',
    '{"en": {"subject": "a\\nBcc: x@y", "body": "b"}}',
    '{"en": {"subject": "a", "body": "\\u0000"}}',
]


@pytest.mark.parametrize("texts", BAD_TEXTS)
@pytest.mark.parametrize("rate", ["0", "-1", str(10**12), "abc", "60"])
def test_campaign_add_and_preview_with_bad_texts(client, texts, rate):
    segment = Segment.objects.create(name="S", key="s", conditions={})
    add = client.post(
        reverse("admin:workflows_campaign_add"),
        {"name": "C", "segment": segment.pk, "channel": "email", "texts": texts, "rate_per_minute": rate},
    )
    preview = client.post(reverse("admin:workflows_campaign_preview"), {"segment": segment.pk, "texts": texts})
    assert add.status_code in (200, 302) and preview.status_code == 200, (add.status_code, preview.status_code)


@pytest.mark.parametrize("segment", ["abc", "99999999999999999999999", "-1", "\x00"])
def test_campaign_preview_with_bad_segment(client, segment):
    response = client.post(reverse("admin:workflows_campaign_preview"), {"segment": segment, "texts": "{}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/admin/workflows/campaign/99999999/start/", "/admin/workflows/campaign/99999999999999999999999/cancel/"],
)
def test_campaign_start_cancel_missing(client, path):
    assert client.post(path).status_code in (302, 404)
    assert client.get(path).status_code in (302, 404, 405)


@pytest.mark.parametrize(
    "fields",
    [
        {"delay_seconds": "-1"},
        {"delay_seconds": str(10**12)},
        {"min_days_between": str(10**12)},
        {"min_days_between": "-5"},
        {"channel": "fax"},
        {"queue": "abc"},
        {"queue": "99999999"},
        {"delay_seconds": "abc"},
    ],
)
def test_survey_setting_add_with_bad_numbers(client, fields):
    data = {
        "channel": "email",
        "queue": "",
        "is_enabled": "on",
        "delay_seconds": "0",
        "min_days_between": "",
        **fields,
    }
    response = client.post(reverse("admin:workflows_surveysetting_add"), data)
    assert response.status_code == 200, response.status_code  # the form again, with the error
