"""The segments' and campaigns' admin: supervisors only, clear form errors, previews that
save nothing, start and cancel."""

from __future__ import annotations

import json
from decimal import Decimal
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import AgentFactory, ContactFactory, SupervisorFactory, UserFactory
from workflows import registry
from workflows.outreach import tasks
from workflows.outreach.models import Campaign, CampaignStatus
from workflows.segments import services
from workflows.segments.models import Segment, SegmentMember

pytestmark = pytest.mark.django_db

HIGH_VALUE = {"attribute": "contact.lifetime_order_value", "op": "gte", "value": 300}
TEXTS = {"en": {"subject": "Hi {{ contact.first_name }}", "body": "We miss you, {{ contact.name }}."}}


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def supervisor() -> Client:
    client = Client()
    client.force_login(SupervisorFactory(is_staff=True))
    return client


@pytest.fixture
def channel() -> None:
    registry.channel_register("recorder", label="Recorder", send=lambda contact, rendered, **kwargs: "ok")


def segment_form(**values) -> dict:
    return {"name": "High value", "key": "high-value", "description": "", "conditions": json.dumps(HIGH_VALUE),
            "is_active": "on", "feed_queue": "", **values}


@pytest.mark.parametrize("url", ["admin:workflows_segment_changelist", "admin:workflows_segment_add",
                                 "admin:workflows_campaign_changelist", "admin:workflows_campaign_add",
                                 "admin:workflows_segment_preview"])
def test_only_supervisors_open_the_pages(url: str, supervisor: Client) -> None:
    staff = Client()
    staff.force_login(UserFactory(is_staff=True))  # staff, not a supervisor
    agent = Client()
    agent.force_login(AgentFactory(is_staff=True))
    assert staff.get(reverse(url)).status_code == 403
    assert agent.get(reverse(url)).status_code == 403
    assert Client().get(reverse(url)).status_code == 302  # to the login
    assert supervisor.get(reverse(url)).status_code == 200


def test_a_segment_is_saved_and_filled(supervisor: Client, settings, django_capture_on_commit_callbacks) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True
    rich = ContactFactory(lifetime_order_value=Decimal("400"))
    ContactFactory(lifetime_order_value=Decimal("4"))
    with django_capture_on_commit_callbacks(execute=True):  # the fill runs in a task after commit
        response = supervisor.post(reverse("admin:workflows_segment_add"), segment_form())
    assert response.status_code == 302
    segment = Segment.objects.get(key="high-value")
    assert list(SegmentMember.objects.filter(segment=segment).values_list("contact_id", flat=True)) == [rich.pk]
    page = supervisor.get(reverse("admin:workflows_segment_change", args=[segment.pk]))
    assert "1 members" in page.content.decode()


@pytest.mark.parametrize(("conditions", "message"), [
    ("{not json", "Enter a valid JSON"),
    (json.dumps({"attribute": "contact.shoe_size", "op": "eq", "value": 1}), "unknown attribute"),
    (json.dumps({"attribute": "contact.tier", "op": "gte", "value": 3}), "does not fit"),
    (json.dumps({"attribute": "contact.lifetime_order_value", "op": "gte", "value": "lots"}), "compares numbers"),
    (json.dumps({"any": "x"}), "must be a list"),
])
def test_bad_conditions_are_form_errors(supervisor: Client, conditions: str, message: str) -> None:
    response = supervisor.post(reverse("admin:workflows_segment_add"), segment_form(conditions=conditions))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Segment.objects.exists()


def test_the_preview_counts_and_samples_what_is_typed_and_saves_nothing(supervisor: Client) -> None:
    rich = ContactFactory(lifetime_order_value=Decimal("400"), name="Rich Person")
    ContactFactory(lifetime_order_value=Decimal("4"), name="Modest Person")
    response = supervisor.post(reverse("admin:workflows_segment_preview"),
                               {**segment_form(), "_fragment": "1"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "1 contact matches now" in body and rich.name in body and "Modest Person" not in body
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert not Segment.objects.exists()
    bad = supervisor.post(reverse("admin:workflows_segment_preview"),
                          {**segment_form(conditions='{"attribute": "nope", "op": "eq", "value": 1}'),
                           "_fragment": "1"})
    assert bad.status_code == 200 and "unknown attribute" in bad.content.decode()


def campaign_form(segment: Segment, **values) -> dict:
    return {"name": "We miss you", "segment": segment.pk, "channel": "recorder", "texts": json.dumps(TEXTS),
            "rate_per_minute": "60", **values}


def test_campaign_form_errors_name_the_problem(supervisor: Client, channel) -> None:
    segment = Segment.objects.create(name="S", key="s", conditions=HIGH_VALUE)
    texts = json.dumps({"en": {"subject": "Hi {{ contact.shoe }}", "body": "x"}})
    response = supervisor.post(reverse("admin:workflows_campaign_add"), campaign_form(segment, texts=texts))
    assert response.status_code == 200 and "contact.shoe" in response.content.decode()
    response = supervisor.post(reverse("admin:workflows_campaign_add"), campaign_form(segment, channel="pigeon"))
    assert response.status_code == 200 and "pigeon" in response.content.decode()
    response = supervisor.post(reverse("admin:workflows_campaign_add"),
                               campaign_form(segment, rate_per_minute="0"))
    assert response.status_code == 200
    assert not Campaign.objects.exists()


def test_campaign_preview_start_and_cancel(supervisor: Client, channel,
                                          django_capture_on_commit_callbacks) -> None:
    ContactFactory(lifetime_order_value=Decimal("400"), name="Ana Lopez", preferred_language="en")
    segment = Segment(name="S", key="s", conditions=HIGH_VALUE)
    services.segment_save(segment=segment)
    preview = supervisor.post(reverse("admin:workflows_campaign_preview"), campaign_form(segment))
    assert preview.status_code == 200
    assert "Hi Ana" in preview.content.decode() and "1 would get it" in preview.content.decode()
    assert supervisor.post(reverse("admin:workflows_campaign_add"), campaign_form(segment)).status_code == 302
    campaign = Campaign.objects.get()
    start = reverse("admin:workflows_campaign_start", args=[campaign.pk])
    assert supervisor.get(start).status_code == 405
    with mock.patch.object(tasks.campaign_send, "apply_async", autospec=True) as enqueue, \
            django_capture_on_commit_callbacks(execute=True):
        assert supervisor.post(start).status_code == 302
    enqueue.assert_called_once()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING
    page = supervisor.get(reverse("admin:workflows_campaign_change", args=[campaign.pk])).content.decode()
    assert "Cancel sending" in page and "0 sent" in page
    assert supervisor.post(reverse("admin:workflows_campaign_cancel", args=[campaign.pk])).status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED
    # starting a cancelled campaign is a clear message, not an error page
    response = supervisor.post(start, follow=True)
    assert response.status_code == 200 and "cannot start again" in response.content.decode()


def test_others_cannot_start_a_campaign(channel) -> None:
    segment = Segment.objects.create(name="S", key="s", conditions=HIGH_VALUE)
    campaign = Campaign.objects.create(name="C", segment=segment, channel="recorder", texts=TEXTS)
    staff = Client()
    staff.force_login(UserFactory(is_staff=True))
    assert staff.post(reverse("admin:workflows_campaign_start", args=[campaign.pk])).status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_a_started_campaign_reads_as_it_was_sent(supervisor: Client, channel) -> None:
    segment = Segment.objects.create(name="S", key="s", conditions=HIGH_VALUE)
    campaign = Campaign.objects.create(name="C", segment=segment, channel="recorder", texts=TEXTS,
                                       status=CampaignStatus.SENDING)
    url = reverse("admin:workflows_campaign_change", args=[campaign.pk])
    page = supervisor.get(url).content.decode()
    assert 'name="texts"' not in page and 'name="channel"' not in page
    assert supervisor.post(url, {"_save": "Save"}).status_code == 302  # nothing to edit, nothing refused
    campaign.refresh_from_db()
    assert campaign.texts == TEXTS and campaign.channel == "recorder"
