"""The workflows admin end to end through Django's test client: saving publishes versions through
the engine (the previous kept), enabling and disabling, every edit audited with before and after,
statistics in the list, the dry run writing nothing, failed runs retried."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from supportdesk.demo.workflows import recovery_definition
from supportdesk.models import OutboxEntry
from tests.factories import AgentProfileFactory, ContactFactory, OrderFactory, SupervisorFactory
from timeline.events import order_delayed_event
from workflows.models import RunStatus, Workflow, WorkflowAudit, WorkflowRun, WorkflowVersion
from workflows.services import workflow_save

pytestmark = pytest.mark.django_db


@pytest.fixture
def supervisor_client() -> Client:
    client = Client()
    client.force_login(SupervisorFactory(is_staff=True))
    return client


def form_data(**changes: Any) -> dict[str, str]:
    definition = recovery_definition()
    values = {
        "key": "recovery", "name": "Recovery", "description": "", "trigger": definition["trigger"],
        "conditions": definition["conditions"], "steps": definition["steps"], "run_key": "",
        "limit_count": "1", "limit_days": "7", "max_depth": "",
        # the read-only versions inline's management form
        "versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0", "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "0",
    }
    values.update(changes)
    return {name: json.dumps(value) if isinstance(value, dict | list) else value for name, value in values.items()
            if value is not None}


def test_adding_publishes_version_one_and_audits_it(supervisor_client):
    response = supervisor_client.post(reverse("admin:workflows_workflow_add"), form_data(is_enabled="on"))

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    workflow = Workflow.objects.get(key="recovery")
    assert workflow.is_enabled and workflow.current_version.number == 1
    assert workflow.current_version.steps == recovery_definition()["steps"]
    audit = WorkflowAudit.objects.get()
    assert (audit.action, audit.before, audit.after["version"], audit.after["is_enabled"]) == (
        "created", None, 1, True)


def test_editing_publishes_a_new_version_keeps_the_previous_and_audits_before_and_after(supervisor_client):
    supervisor_client.post(reverse("admin:workflows_workflow_add"), form_data())
    workflow = Workflow.objects.get()
    url = reverse("admin:workflows_workflow_change", args=[workflow.pk])

    supervisor_client.post(url, form_data(limit_count="2"))
    supervisor_client.post(url, form_data(limit_count="2"))  # saved again unchanged: nothing new

    versions = list(WorkflowVersion.objects.filter(workflow=workflow).order_by("number")
                    .values_list("number", "limit_count"))
    assert versions == [(1, 1), (2, 2)]
    change = WorkflowAudit.objects.get(action="changed")
    assert (change.before["limit_count"], change.after["limit_count"]) == (1, 2)
    assert (change.before["version"], change.after["version"]) == (1, 2)
    page = supervisor_client.get(url).content.decode()
    assert "Versions (the previous ones are kept, read-only)" in page


def test_a_bad_definition_is_refused_on_its_field_and_nothing_is_published(supervisor_client):
    bad = {"all": [{"attribute": "contact.lifetime_order_value", "op": "contains", "value": "x"}]}
    response = supervisor_client.post(reverse("admin:workflows_workflow_add"), form_data(conditions=bad))

    assert response.status_code == 200
    assert "conditions" in response.context["adminform"].form.errors
    assert not Workflow.objects.exists() and not WorkflowAudit.objects.exists()


def test_a_workflow_is_disabled_never_deleted(supervisor_client):
    workflow, _version = workflow_save(key="w", name="W", definition=recovery_definition())

    url = reverse("admin:workflows_workflow_delete", args=[workflow.pk])
    response = supervisor_client.post(url, {"post": "yes"})

    assert response.status_code == 403 and Workflow.objects.filter(pk=workflow.pk).exists()


def test_enable_and_disable_actions_are_audited(supervisor_client):
    workflow, _version = workflow_save(key="w", name="W", definition=recovery_definition())
    changelist = reverse("admin:workflows_workflow_changelist")

    supervisor_client.post(changelist, {"action": "enable", "_selected_action": [workflow.pk]})
    assert Workflow.objects.get().is_enabled
    supervisor_client.post(changelist, {"action": "disable", "_selected_action": [workflow.pk]})

    assert not Workflow.objects.get().is_enabled
    assert list(WorkflowAudit.objects.order_by("id").values_list("action", flat=True)) == ["enabled", "disabled"]


def test_the_list_shows_version_and_statistics(supervisor_client):
    workflow, version = workflow_save(key="w", name="W", definition=recovery_definition())
    contact = ContactFactory()
    for number, status in enumerate([RunStatus.DONE, RunStatus.SKIPPED, RunStatus.FAILED, RunStatus.FAILED]):
        WorkflowRun.objects.create(workflow=workflow, version=version, contact=contact, run_key=f"k{number}",
                                   status=status)

    page = supervisor_client.get(reverse("admin:workflows_workflow_changelist")).content.decode()

    assert "v1" in page
    assert '<td class="field-triggered">4</td>' in page
    assert '<td class="field-skipped_by_limit">1</td>' in page and '<td class="field-failed">2</td>' in page


def _table_counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        counts = {}
        for table in ("workflows_workflow", "workflows_workflowversion", "workflows_workflowrun",
                      "workflows_workflowaudit", "integrations_mailboxmessage"):
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 (our own table names)
            counts[table] = cursor.fetchone()[0]
    return counts


def test_a_dry_run_of_the_draft_in_the_form_lists_who_and_what_and_writes_nothing(supervisor_client):
    AgentProfileFactory(languages=["es", "en", "xx"])
    unhappy = ContactFactory(name="Lucía Fernández", lifetime_order_value=450, last_rating=2)
    order = OrderFactory(customer=unhappy, external_id="O-LATE", status="in_delivery")



    order.promised_at = timezone.now() - timedelta(hours=1)
    order.save()
    order_delayed_event(contact_id=unhappy.pk, order=order, delay_minutes=20, reason="traffic",
                        occurred_at=timezone.now() - timedelta(hours=2), actor="oms")
    before, outbox_before = _table_counts(), OutboxEntry.objects.count()

    response = supervisor_client.post(reverse("admin:workflows_workflow_dry_run"), form_data(key="", days="7"))

    page = response.content.decode()
    assert response.status_code == 200 and response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "Lucía Fernández" in page and "would have acted on 1 contact" in page
    assert "xx" in page  # the warning: a language the desk serves without a text
    assert _table_counts() == before and OutboxEntry.objects.count() == outbox_before


def test_a_dry_run_of_a_bad_draft_says_what_is_wrong(supervisor_client):
    response = supervisor_client.post(reverse("admin:workflows_workflow_dry_run"),
                                      form_data(steps=[{"action": "teleport"}], days="7"))

    assert response.status_code == 200 and "teleport" in response.content.decode()


def test_retrying_a_failed_run_hands_it_back_to_the_engine_and_is_audited(supervisor_client):
    workflow, version = workflow_save(key="w", name="W", definition=recovery_definition())
    failed = WorkflowRun.objects.create(workflow=workflow, version=version, contact=ContactFactory(), run_key="a",
                                        status=RunStatus.FAILED, error="OMS down")
    done = WorkflowRun.objects.create(workflow=workflow, version=version, contact=ContactFactory(), run_key="b",
                                      status=RunStatus.DONE)

    supervisor_client.post(reverse("admin:workflows_workflowrun_changelist"),
                           {"action": "retry", "_selected_action": [failed.pk, done.pk]})

    failed.refresh_from_db()
    assert failed.status != RunStatus.FAILED
    assert WorkflowRun.objects.get(pk=done.pk).status == RunStatus.DONE
    assert WorkflowAudit.objects.get().action == "retried"


def test_a_dry_run_of_the_saved_version_and_of_a_workflow_that_does_not_exist(supervisor_client):
    workflow, _version = workflow_save(key="w", name="W", definition=recovery_definition())

    saved = supervisor_client.get(reverse("admin:workflows_workflow_dry_run_saved", args=[workflow.pk]),
                                  {"days": "3"})
    missing = supervisor_client.get(reverse("admin:workflows_workflow_dry_run_saved", args=[999999]))
    bad_days = supervisor_client.get(reverse("admin:workflows_workflow_dry_run_saved", args=[workflow.pk]),
                                     {"days": "-1"})

    assert saved.status_code == 200
    assert "Over the last 3 days it would have acted on 0 contacts" in saved.content.decode()
    assert missing.status_code == 404
    assert bad_days.status_code == 200 and "Choose how many days" in bad_days.content.decode()
