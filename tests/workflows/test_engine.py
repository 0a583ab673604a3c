"""The engine end to end: event triggers, conditions, run key, per-contact limit, loop guard,
kill and retry at each step, failures and retries, versioning, statistics."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from supportdesk.models import OutboxEntry
from tests.factories import ContactFactory, OrderFactory
from tests.workflows.conftest import (
    late_order_for,
    order_delayed,
    recovery_definition,
    unhappy_customer,
    work,
    workflow_published,
)
from timeline import events
from timeline.models import TIMELINE_STREAM, TimelineEvent
from workflows.models import RunStatus, StepStatus, WorkflowRun, WorkflowRunStep
from workflows.selectors import workflow_stats
from workflows.services import run_advance, run_retry, runs, workflow_save
from workflows.services.triggers import listened_kinds_clear, triggers_drain

pytestmark = pytest.mark.django_db


def test_a_delay_for_an_unhappy_high_value_customer_gets_a_rebate_and_an_apology(oms, mailbox) -> None:
    workflow, version = workflow_published()
    contact = unhappy_customer()
    order = late_order_for(contact)

    order_delayed(order)
    [run] = work()

    assert run.status == RunStatus.DONE and run.version_id == version.pk
    assert run.subject_type == "order" and run.subject_id == order.pk
    assert list(oms.rebates.values())[0].order_external_id == order.external_id
    [(key, to, subject, body)] = mailbox.sends
    assert to == contact.email and subject == f"Perdón por el pedido {order.external_id}"
    assert "Hola Ana, te devolvemos 5.00 EUR." == body
    steps = list(WorkflowRunStep.objects.filter(run=run).order_by("position"))
    assert [step.status for step in steps] == [StepStatus.DONE, StepStatus.DONE]
    assert steps[0].result["data"]["reference"].startswith("rb_")
    assert steps[0].idempotency_key != steps[1].idempotency_key == key
    recorded = TimelineEvent.objects.get(contact=contact, kind="workflow.run")
    assert recorded.payload["summary"] == ("granted a 5.00 EUR rebate; sent “Perdón por el pedido "
                                           f"{order.external_id}” by test_mail")
    assert recorded.actor == f"workflow:{workflow.pk}:{run.pk}"
    assert workflow_stats(workflow.pk) == {"triggered": 1, "acted": 1, "skipped_by_limit": 0, "failed": 0,
                                           "in_progress": 0}


def test_conditions_keep_happy_or_small_customers_out(oms, mailbox) -> None:
    workflow_published()
    happy = unhappy_customer(last_rating=5, rating_avg_90d=4)
    small = unhappy_customer(lifetime_order_value=50)
    order_delayed(late_order_for(happy))
    order_delayed(late_order_for(small))
    assert work() == [] and not oms.calls and not mailbox.sends


def test_only_kinds_an_enabled_workflow_listens_to_get_outbox_entries(mailbox) -> None:
    workflow_published(enabled=False)
    contact = unhappy_customer()
    order = late_order_for(contact)
    order_delayed(order)
    assert not OutboxEntry.objects.filter(stream=TIMELINE_STREAM).exists()
    workflow_published()
    order_delayed(order)
    events.order_updated_event(contact_id=contact.pk, order=order, changes={}, occurred_at=timezone.now(),
                               actor="oms")
    assert OutboxEntry.objects.filter(stream=TIMELINE_STREAM).count() == 1


def test_the_run_key_makes_an_event_delivered_twice_one_run(oms, mailbox) -> None:
    workflow_published()
    order = late_order_for(unhappy_customer())
    order_delayed(order)
    order_delayed(order, minutes=10)  # a second delay of the same order: the same run key
    work()
    assert WorkflowRun.objects.count() == 1 and len(oms.rebates) == 1 and len(mailbox.sends) == 1


def test_without_a_limit_the_runs_of_a_batch_start_in_one_statement_once_per_run_key(oms, mailbox) -> None:
    workflow_published(limit=None)
    first, second = late_order_for(unhappy_customer()), late_order_for(unhappy_customer(name="Eva"))
    order_delayed(first)
    order_delayed(first, minutes=10)  # the same run key in the same batch
    order_delayed(second)
    assert triggers_drain().handled == 3
    order_delayed(first, minutes=5)  # and in a later batch
    work()
    runs = WorkflowRun.objects.order_by("pk")
    assert [(run.subject_id, run.status) for run in runs] == [(first.pk, RunStatus.DONE),
                                                              (second.pk, RunStatus.DONE)]
    assert len(oms.rebates) == 2 and len(mailbox.sends) == 2


def test_the_per_contact_limit_skips_and_records(oms, mailbox) -> None:
    workflow, _ = workflow_published()
    contact = unhappy_customer()
    order_delayed(late_order_for(contact))
    order_delayed(late_order_for(contact))
    first, second = work()
    assert first.status == RunStatus.DONE
    assert second.status == RunStatus.SKIPPED and "limit" in second.summary
    assert len(oms.rebates) == 1 and len(mailbox.sends) == 1
    assert workflow_stats(workflow.pk)["skipped_by_limit"] == 1
    assert workflow_stats(workflow.pk)["triggered"] == 2
    # Out of the window, the contact may get one again.
    WorkflowRun.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(days=8))
    order_delayed(late_order_for(contact))
    assert work()[-1].status == RunStatus.DONE


def test_a_workflows_own_actions_never_retrigger_it(oms, mailbox) -> None:
    workflow, _ = workflow_published(
        "tagger", trigger={"type": "event", "kinds": ["contact.updated"]}, conditions={},
        run_key="{workflow}:{event}", steps=[{"action": "add_tags", "params": {"tags": ["touched"]}}], limit=None)
    contact = ContactFactory()
    events.contact_updated_event(contact=contact, changes={"name": "x"}, occurred_at=timezone.now(), actor="oms")
    work()
    work()
    contact.refresh_from_db()
    assert contact.tags == ["touched"]
    assert WorkflowRun.objects.count() == 1  # its own contact.updated started nothing


def test_chains_stop_at_the_depth_limit_with_a_log_line(settings, caplog, mailbox) -> None:
    settings.WORKFLOWS_MAX_CHAIN_DEPTH = 2
    contact = unhappy_customer()
    # A line of workflows: a delay tags "a"; a contact tagged "a" is tagged "b"; "b" gets "c".
    workflow_published("first", conditions={}, steps=[{"action": "add_tags", "params": {"tags": ["a"]}}],
                       limit=None)
    for name, after in (("second", "a"), ("third", "b")):
        workflow_published(name, trigger={"type": "event", "kinds": ["contact.updated"]}, limit=None,
                           conditions={"attribute": "contact.tags", "op": "contains", "value": after},
                           steps=[{"action": "add_tags", "params": {"tags": [chr(ord(after) + 1)]}}],
                           run_key="{workflow}:{event}")
    order_delayed(late_order_for(contact))
    with caplog.at_level(logging.WARNING):
        for _round in range(4):
            work()
    contact.refresh_from_db()
    assert contact.tags == ["a", "b"]  # the third would be the chain's third workflow: stopped
    assert sorted(len(run.chain) for run in WorkflowRun.objects.all()) == [0, 1]
    assert "Workflow chain stopped at depth 2: third not started by contact.updated" in caplog.text


class Killed(BaseException):
    """The worker dies here (not an error a step handles)."""


@pytest.mark.parametrize("checkpoint", ["external_started", "external_called", "external_done", "internal_done"])
def test_a_kill_at_any_point_and_a_retry_give_one_rebate_and_one_email(oms, mailbox, monkeypatch,
                                                                        checkpoint) -> None:
    workflow, _ = workflow_published(steps=[
        {"action": "oms_rebate", "params": {"amount": "5.00"}},
        {"action": "add_tags", "params": {"tags": ["recovered"]}},
        {"action": "send_message", "params": {"channel": "test_mail", "template": recovery_definition()["steps"][1]
                                               ["params"]["template"]}},
    ])
    contact = unhappy_customer()
    order_delayed(late_order_for(contact))
    kills = []

    def die(name: str) -> None:
        if name == checkpoint and len(kills) < 3:  # dies at this point of every step, up to three times
            kills.append(name)
            raise Killed(name)

    monkeypatch.setattr(runs, "_checkpoint", die)
    from workflows.services import triggers_drain

    triggers_drain()
    run = WorkflowRun.objects.get()
    later = timezone.now()
    for _attempt in range(10):  # the worker restarts; a lease the dead one held lapses
        later += timedelta(seconds=600)
        try:
            if run_advance(run.pk, now=later) == RunStatus.DONE:
                break
        except Killed:
            continue
    assert kills, "the kill point was never reached"
    run.refresh_from_db()
    assert run.status == RunStatus.DONE
    assert len(oms.rebates) == 1 and set(oms.calls) == set(oms.rebates)
    assert len(mailbox.distinct) == 1  # a resend after a kill carries the same Message-ID
    if checkpoint != "external_called":
        assert len(oms.calls) == 1 and len(mailbox.sends) == 1  # not even asked twice
    contact.refresh_from_db()
    assert contact.tags == ["recovered"]
    assert TimelineEvent.objects.filter(contact=contact, kind="contact.updated").count() == 1
    assert TimelineEvent.objects.filter(contact=contact, kind="workflow.run").count() == 1


def test_a_failing_step_fails_the_run_and_a_retry_finishes_it_once(oms, mailbox, settings, monkeypatch) -> None:
    settings.WORKFLOWS_STEP_MAX_ATTEMPTS = 2
    from integrations.oms.client import OmsTransientError

    workflow, _ = workflow_published()
    order_delayed(late_order_for(unhappy_customer()))
    healthy = oms.issue_rebate

    def down(**kwargs):
        raise OmsTransientError("OMS answered 503")

    oms.issue_rebate = down
    [run] = work()
    assert run.status == RunStatus.RUNNING and run.resume_at is not None  # backing off
    run_advance(run.pk, now=run.resume_at + timedelta(seconds=1))
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "503" in run.error
    assert workflow_stats(workflow.pk)["failed"] == 1
    assert TimelineEvent.objects.get(kind="workflow.run").payload["status"] == "failed"

    oms.issue_rebate = healthy
    run_retry(run.pk)
    run_retry(run.pk)  # a second click changes nothing
    assert run_advance(run.pk) == RunStatus.DONE
    assert len(oms.rebates) == 1 and len(mailbox.sends) == 1
    assert WorkflowRunStep.objects.get(run=run, position=0).attempts == 3


def test_a_run_finishes_on_the_version_it_started_on(oms, mailbox) -> None:
    workflow, first = workflow_published(steps=[
        {"action": "wait", "params": {"minutes": 1}},
        {"action": "add_tags", "params": {"tags": ["v1"]}},
    ])
    contact = unhappy_customer()
    order_delayed(late_order_for(contact))
    [run] = work()
    assert run.status == RunStatus.WAITING
    workflow, second = workflow_save(key="recovery", name="Recovery", definition=recovery_definition(steps=[
        {"action": "add_tags", "params": {"tags": ["v2"]}}]))
    assert second.number == first.number + 1 and workflow.current_version_id == second.pk
    # Saving the same definition again publishes nothing new.
    assert workflow_save(key="recovery", name="Recovery", definition=recovery_definition(steps=[
        {"action": "add_tags", "params": {"tags": ["v2"]}}]))[1].pk == second.pk

    run_advance(run.pk, now=run.resume_at)
    run.refresh_from_db()
    contact.refresh_from_db()
    assert run.status == RunStatus.DONE and run.version_id == first.pk and contact.tags == ["v1"]
    with pytest.raises(TypeError):
        first.save()  # versions are immutable


def test_the_wait_step_resumes_to_the_second(oms, mailbox) -> None:
    workflow_published(steps=[{"action": "wait", "params": {"minutes": 0.5}},
                              {"action": "add_tags", "params": {"tags": ["after"]}}])
    order_delayed(late_order_for(unhappy_customer()))
    [run] = work()
    assert run.status == RunStatus.WAITING
    started = WorkflowRunStep.objects.get(run=run, position=0).finished_at
    assert abs((run.resume_at - started).total_seconds() - 30) < 1
    assert run_advance(run.pk, now=run.resume_at - timedelta(seconds=1)) == RunStatus.WAITING
    assert runs.runs_due(now=run.resume_at - timedelta(seconds=1)) == []
    assert runs.runs_due(now=run.resume_at) == [run.pk]
    assert run_advance(run.pk, now=run.resume_at) == RunStatus.DONE


def test_stop_unless_ends_the_run_when_the_condition_no_longer_holds(oms, mailbox) -> None:
    workflow, _ = workflow_published(steps=[
        {"action": "wait", "params": {"minutes": 5}},
        {"action": "stop_unless", "params": {"condition": {"attribute": "order.status", "op": "ne",
                                                           "value": "delivered"}}},
        {"action": "oms_rebate", "params": {"amount": "5.00"}},
    ])
    order = late_order_for(unhappy_customer())
    order_delayed(order)
    [run] = work()
    order.status = "delivered"
    order.save()
    assert run_advance(run.pk, now=run.resume_at) == RunStatus.STOPPED
    assert not oms.calls
    assert workflow_stats(workflow.pk)["acted"] == 0


def test_disabled_workflows_start_nothing(oms, mailbox) -> None:
    from workflows.services import workflow_disable

    workflow, _ = workflow_published()
    workflow_disable(workflow_id=workflow.pk)
    listened_kinds_clear()
    order_delayed(late_order_for(unhappy_customer()))
    assert work() == []


def test_orders_of_other_contacts_are_not_mixed_up(oms, mailbox) -> None:
    workflow_published()
    first, second = unhappy_customer(), unhappy_customer(preferred_language="fr", country="FR")
    order_delayed(late_order_for(first))
    order_delayed(OrderFactory(customer=second, promised_at=timezone.now()))
    work()
    assert sorted(to for _, to, _, _ in mailbox.sends) == sorted([first.email, second.email])
    # No French text: France's language is French, so English.
    assert any(subject.startswith("Sorry about order") for _, _, subject, _ in mailbox.sends)
