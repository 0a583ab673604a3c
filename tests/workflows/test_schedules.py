"""Schedules: a cron expression over a segment's members, each member's run once per firing.

The segments part (workflows.segments) is another engineer's; until it is merged its
member list is given here through `segment_member_ids`, the one name the engine calls."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import ContactFactory
from tests.workflows.conftest import work, workflow_published
from workflows.models import RunStatus, Workflow, WorkflowRun
from workflows.services import schedules, schedules_fire

pytestmark = pytest.mark.django_db


@pytest.fixture
def members(monkeypatch):
    contacts = ContactFactory.create_batch(4)
    monkeypatch.setattr(schedules, "segment_member_ids", lambda segment_id: iter(c.pk for c in contacts))
    return contacts


def test_a_schedule_runs_once_per_member_per_firing(members, mailbox) -> None:
    members[0].tags = ["vip"]
    members[0].save()
    workflow, _ = workflow_published(
        "weekly", trigger={"type": "schedule", "cron": "*/5 * * * *", "segment": 1}, limit=None,
        conditions={"attribute": "contact.tags", "op": "contains", "value": "vip"}, run_key="",
        steps=[{"action": "add_tags", "params": {"tags": ["checked"]}}])
    due = Workflow.objects.get(pk=workflow.pk).next_fire_at
    assert due > timezone.now() and due.minute % 5 == 0 and due.second == 0

    assert schedules_fire(now=due - timedelta(seconds=1)) == 0
    assert schedules_fire(now=due) == 1  # only the VIP member holds the condition
    assert schedules_fire(now=due) == 0  # fired already
    following = Workflow.objects.get(pk=workflow.pk).next_fire_at
    assert following == due + timedelta(minutes=5)
    work()
    members[0].refresh_from_db()
    assert members[0].tags == ["vip", "checked"]
    assert WorkflowRun.objects.get().status == RunStatus.DONE

    # The same firing created again (a retried task) starts nothing twice.
    version = Workflow.objects.get(pk=workflow.pk).current_version
    assert schedules.schedule_runs_create(workflow=workflow, version=version, fired_at=due,
                                          member_ids=[c.pk for c in members]) == 0


def test_a_schedule_respects_the_per_contact_limit(members, mailbox) -> None:
    workflow, _ = workflow_published(
        "daily", trigger={"type": "schedule", "cron": "0 * * * *", "segment": 1}, conditions={}, run_key="",
        steps=[{"action": "add_tags", "params": {"tags": ["nudged"]}}], limit={"count": 1, "days": 7})
    first = Workflow.objects.get(pk=workflow.pk).next_fire_at
    schedules_fire(now=first)
    schedules_fire(now=first + timedelta(hours=1))
    statuses = sorted(WorkflowRun.objects.values_list("status", flat=True))
    assert statuses.count(RunStatus.DONE) == 4 and statuses.count(RunStatus.SKIPPED) == 4
    assert all("limit" in run.summary for run in WorkflowRun.objects.filter(status=RunStatus.SKIPPED))


@pytest.mark.parametrize("inline", [True, False], ids=["done-at-firing", "claimed-by-a-task"])
def test_cheap_steps_run_set_based_with_the_same_records(members, mailbox, monkeypatch, inline) -> None:
    from timeline.models import TimelineEvent
    from workflows.models import WorkflowRunStep
    from workflows.tasks import runs_advance_many

    members[0].tags = ["seen"]
    members[0].save()
    workflow, _ = workflow_published(
        "bulk", trigger={"type": "schedule", "cron": "0 * * * *", "segment": 1}, conditions={}, run_key="",
        limit=None, steps=[{"action": "add_tags", "params": {"tags": ["seen"]}},
                           {"action": "set_contact_attribute", "params": {"name": "audit", "value": "due"}}])
    if not inline:  # the runs are left running, for the batch task to claim
        monkeypatch.setattr(schedules, "batchable", lambda version: False)
    schedules_fire(now=Workflow.objects.get(pk=workflow.pk).next_fire_at)
    ids = list(WorkflowRun.objects.values_list("pk", flat=True))
    assert set(WorkflowRun.objects.values_list("status", flat=True)) == {
        RunStatus.DONE if inline else RunStatus.RUNNING}

    runs_advance_many(ids)
    runs_advance_many(ids)  # again (a redelivered task): nothing twice

    assert set(WorkflowRun.objects.values_list("status", flat=True)) == {RunStatus.DONE}
    assert WorkflowRunStep.objects.count() == 8
    assert WorkflowRunStep.objects.filter(idempotency_key__startswith=f"wf:{workflow.pk}:").count() == 8
    for contact in members:
        contact.refresh_from_db()
        assert contact.tags == ["seen"] and contact.attributes["audit"] == "due"
    # The member tagged already had one change (the attribute), the others two.
    assert TimelineEvent.objects.filter(kind="contact.updated").count() == 7
    run = WorkflowRun.objects.get(contact=members[1])
    assert run.summary == "tagged seen; set audit to due"
    assert TimelineEvent.objects.filter(kind="workflow.run", contact=members[1],
                                        actor=f"workflow:{workflow.pk}:{run.pk}").count() == 1
