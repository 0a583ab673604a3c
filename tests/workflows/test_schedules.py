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


TAG_STEPS = {
    "add-one": [{"action": "add_tags", "params": {"tags": ["b-new"]}}],
    "add-several": [{"action": "add_tags", "params": {"tags": ["z-new", "a-old", "z-new", "m-new"]}}],
    "remove-one": [{"action": "remove_tags", "params": {"tags": ["a-old"]}}],
    "remove-several": [{"action": "remove_tags", "params": {"tags": ["c-old", "a-old", "absent"]}}],
    "attribute": [{"action": "set_contact_attribute", "params": {"name": "audit", "value": "due"}}],
}


@pytest.mark.parametrize("steps", list(TAG_STEPS.values()), ids=list(TAG_STEPS))
def test_set_based_steps_leave_the_contacts_and_their_timeline_as_the_one_by_one_path_does(
        members, mailbox, monkeypatch, steps) -> None:
    """Each shape of tag and attribute change (one tag or several, present or absent), done for
    the same contacts set-based and one by one: the same tags, attributes and events."""
    from timeline.models import Contact, TimelineEvent
    from workflows.services import runs

    def outcome() -> list:
        contacts = Contact.objects.filter(pk__in=[c.pk for c in members]).order_by("pk")
        events = TimelineEvent.objects.filter(kind="contact.updated").order_by("contact_id")
        return [[(sorted(c.tags), c.attributes) for c in contacts],
                [(e.contact_id, e.payload) for e in events]]

    def fired(set_based: bool, number: int) -> list:
        for contact, tags in zip(members, (["a-old", "c-old"], ["c-old"], [], ["z-new", "b-new", "a-old"]),
                                 strict=True):
            Contact.objects.filter(pk=contact.pk).update(
                tags=tags, attributes={"audit": "due"} if contact == members[0] else {})
        TimelineEvent.objects.filter(kind="contact.updated").delete()
        workflow, _ = workflow_published(f"shape-{number}", trigger={"type": "schedule", "cron": "0 * * * *",
                                                                     "segment": 1},
                                         conditions={}, run_key="", limit=None, steps=steps)
        with monkeypatch.context() as patched:
            if not set_based:
                patched.setattr(schedules, "batchable", lambda version: False)
            schedules_fire(now=Workflow.objects.get(pk=workflow.pk).next_fire_at)
        for run_id in WorkflowRun.objects.filter(workflow=workflow, status=RunStatus.RUNNING).values_list(
                "pk", flat=True):
            runs.run_advance(run_id)
        assert set(WorkflowRun.objects.filter(workflow=workflow).values_list("status", flat=True)) == {
            RunStatus.DONE}
        return outcome()

    set_based, one_by_one = fired(True, 1), fired(False, 2)
    assert set_based == one_by_one
    assert set_based[1], "some contact changed"
