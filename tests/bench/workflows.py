"""Workflows and segments under OMS load: intake with and without 50 enabled workflows, trigger
to action, timers, a schedule over a 1,000,000-contact segment, and segment membership updates.

In its own database (`<database>_bench_workflows`), 1,000,000 customers are generated inside
PostgreSQL (INSERT ... SELECT generate_series; kept between runs when complete) and four
segments are filled over them (one of every customer, three narrower ones), through the
segments' service. Then, with the real web server (uvicorn), Celery worker and beat of this
machine, in one run:

A. signed OMS order events fired at the webhook over HTTP (as tests.bench.oms_ingest does),
   with no workflow enabled and no segment active: the intake rate without workflows;
B. 50 workflows enabled (40 on events, 8 timers 15 s after an order is created, 2 schedules)
   and the segments active, and as many fresh events fired again: the intake rate with them
   (target: at least 80% of A's), then, once everything is processed, how long after each
   trigger its first action was done: for event triggers from the timeline event that
   triggered it (target p99 under 2 s), for timers from the time the timer was due (target
   p99 under 5 s past due);
C. the schedule over the segment of every customer comes due and is fired (by the service
   the beat's tick calls, called here too): from its due time to the last of its 1,000,000
   runs done (target under 60 s);
D. timeline events for customers written at once (with their outbox entries, as the
   timeline's writers do) and applied to the four segments by the segments' consumer (its
   drain service, driven from here and by the beat): events per second (target: at least
   2,000 a second, the OMS rate).

    python -m tests.bench.workflows [--contacts 1000000] [--events 20000] [--concurrency 64]

Exits 1 naming what missed its target or was inconsistent (make bench goes on to the next).
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from typing import Any

import uvloop

from tests.bench import harness, oms_ingest

DATABASE = "bench_workflows"
SECRET = "bench-oms-secret"
INTAKE_RATIO_TARGET = 0.80
EVENT_P99_TARGET_MS = 2_000.0
TIMER_P99_TARGET_MS = 5_000.0
SCHEDULE_TARGET_SECONDS = 60.0
MEMBERSHIP_TARGET_PER_SECOND = 2_000.0
TIMER_MINUTES = 0.25  # the timers fire 15 s after their order is created
EVENT_KINDS = ["order.created", "order.status_changed", "order.delivered", "order.courier_assigned"]
WORKFLOW_PREFIX = "bench-"


# --- the world -------------------------------------------------------------------------------------


def contacts_generate(count: int) -> None:
    """`count` customers, BC0 .. BC<count-1> (the OMS events name their customers so), with
    values and ratings spread so that the narrower segments hold a share of them."""
    from django.db import connection

    from tests.bench.timeline import _insert_select
    from timeline.models import Contact

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM timeline_contact WHERE kind = 'customer' AND external_id LIKE 'BC%%'")
        have = cursor.fetchone()[0]
        # An earlier run's workflows tagged them (a tag on every customer a run): generated
        # again, so that each run finds the rows and their pages as the first did.
        cursor.execute("SELECT EXISTS (SELECT 1 FROM timeline_contact WHERE tags <> '{}' OR attributes <> '{}')")
        changed = cursor.fetchone()[0]
    if have == count and not changed:
        harness.step(f"the {count:,} customers are there already")
        return
    harness.step(f"generating {count:,} customers inside PostgreSQL")
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE timeline_contact RESTART IDENTITY CASCADE")
    _insert_select(Contact, {
        "kind": "'customer'", "external_id": "'BC' || (i - 1)", "name": "'Customer ' || i",
        "email": "'customer' || i || '@example.com'",
        "preferred_language": "(ARRAY['es','en','ca','pt','fr','it','pl','ro','de','ko'])[1 + i % 10]",
        "country": "(ARRAY['ES','GB','PT','FR','IT','PL','RO','DE'])[1 + i % 8]",
        "tier": "(ARRAY['', '', '', 'gold', 'vip'])[1 + i % 5]",
        "lifetime_order_value": "((i * 37) % 5000)::numeric / 10",
        "order_count": "i % 12",
        "last_rating": "CASE WHEN i % 3 = 0 THEN NULL ELSE 1 + i % 5 END",
        "rating_count": "CASE WHEN i % 3 = 0 THEN 0 ELSE 1 + i % 4 END",
        "created_at": "now()", "updated_at": "now()",
    }, connection=connection, chunk=250_000, total=count, label="customers")
    harness.step("VACUUM ANALYZE")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE timeline_contact")


def world_reset() -> None:
    """Everything a previous run left but the generated customers (generated again when an
    earlier run's workflows changed them: `contacts_generate`)."""
    from django.db import connection

    harness.step("clearing what an earlier run left")
    with connection.cursor() as cursor:
        cursor.execute("""TRUNCATE workflows_workflowrunstep, workflows_workflowrun, workflows_workflowtimer,
                                   workflows_workflowversion, workflows_workflowaudit, workflows_workflow,
                                   workflows_segmentmember,
                                   workflows_segment, workflows_campaignrecipient, workflows_campaign,
                                   integrations_omsevent, timeline_timelineevent, timeline_orderstatuschange,
                                   supportdesk_outboxentry""")
        # Not TRUNCATE ... CASCADE for the orders: a courier's current order is a contact's column,
        # and the cascade would empty the contacts.
        cursor.execute("UPDATE timeline_contact SET current_order_id = NULL WHERE current_order_id IS NOT NULL")
        cursor.execute("DELETE FROM timeline_order")
        cursor.execute("DELETE FROM timeline_contact WHERE NOT (kind = 'customer' AND external_id LIKE 'BC%%')")
    # An earlier run's orders changed some customers' rows (values, counts): the old row
    # versions go now, so each run finds room in the table's pages as the first did.
    harness.step("VACUUM timeline_contact")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE timeline_contact")


SEGMENTS = {
    "bench-everyone": {"all": [{"attribute": "contact.kind", "op": "eq", "value": "customer"}]},
    "bench-high-value": {"all": [{"attribute": "contact.lifetime_order_value", "op": "gte", "value": 300}]},
    "bench-unhappy": {"all": [{"attribute": "contact.last_rating", "op": "lte", "value": 2}]},
    "bench-vip": {"all": [{"attribute": "contact.tier", "op": "eq", "value": "vip"}]},
}


def segments_create() -> dict[str, int]:
    """The four segments, filled set-based by the segments' service; their ids."""
    from workflows.segments.models import Segment
    from workflows.segments.services import segment_member_count, segment_save

    ids = {}
    for key, conditions in SEGMENTS.items():
        began = time.monotonic()
        segment = Segment(key=key, name=key, conditions=conditions, is_active=True)
        segment_save(segment=segment, actor="bench")
        ids[key] = segment.pk
        harness.step(f"segment {key}: {segment_member_count(segment.pk):,} members, filled in "
                     f"{time.monotonic() - began:.1f} s")
    return ids


def segments_refreshed() -> dict[int, Any]:
    from workflows.segments.models import Segment

    return dict(Segment.objects.filter(key__in=SEGMENTS).values_list("pk", "refreshed_at"))


def segments_activate(active: bool) -> None:
    from workflows.segments.models import Segment
    from workflows.segments.services import active_segments_clear

    Segment.objects.filter(key__in=SEGMENTS).update(is_active=active)
    active_segments_clear()


def _band(number: int, width: float = 4.25) -> dict[str, Any]:
    """Orders whose total falls in a band of its own (about 5% of them: totals are 5 to 90)."""
    low = 5 + (number * 2.1) % 80
    return {"all": [{"attribute": "order.total", "op": "gte", "value": round(low, 2)},
                    {"attribute": "order.total", "op": "lt", "value": round(low + width, 2)}]}


def workflow_definitions(run: str, segments: dict[str, int]) -> list[tuple[str, dict[str, Any]]]:
    """50 workflows: 40 on order events (each acting on about 5% of the orders: tags, a
    contact attribute, and for some a rebate through the OMS client), 8 timers 15 s after an
    order is created, and 2 schedules over segments (yearly: phase C fires one by hand)."""
    definitions = []
    for number in range(40):
        steps: list[dict[str, Any]] = [{"action": "add_tags", "params": {"tags": [f"{run}-e{number}"]}}]
        if number % 4 == 1:
            steps.append({"action": "set_contact_attribute", "params": {"name": "bench", "value": number}})
        if number % 10 == 3:
            steps.append({"action": "oms_rebate", "params": {"amount": "1.00", "reason": "bench"}})
        definitions.append((f"{WORKFLOW_PREFIX}event-{number}", {
            "trigger": {"type": "event", "kinds": [EVENT_KINDS[number % len(EVENT_KINDS)]]},
            "conditions": _band(number), "steps": steps}))
    for number in range(8):
        definitions.append((f"{WORKFLOW_PREFIX}timer-{number}", {
            "trigger": {"type": "timer", "kinds": ["order.created"], "minutes": TIMER_MINUTES},
            "conditions": _band(100 + number * 3, width=8.5),
            "steps": [{"action": "add_tags", "params": {"tags": [f"{run}-t{number}"]}}]}))
    for number, segment in enumerate(["bench-everyone", "bench-unhappy"]):
        definitions.append((f"{WORKFLOW_PREFIX}schedule-{number}", {
            "trigger": {"type": "schedule", "cron": "0 3 1 1 *", "segment": segments[segment]},
            "steps": [{"action": "add_tags", "params": {"tags": [f"{run}-s{number}"]}}]}))
    return definitions


def workflows_create(run: str, segments: dict[str, int]) -> dict[str, int]:
    from workflows.services import workflow_save

    ids = {}
    for key, definition in workflow_definitions(run, segments):
        workflow, _version = workflow_save(key=key, name=key, definition=definition)
        ids[key] = workflow.pk
    return ids


def workflows_enable(ids: dict[str, int]) -> None:
    from workflows.services import workflow_enable

    for workflow_id in ids.values():
        workflow_enable(workflow_id=workflow_id)


# --- what the database says --------------------------------------------------------------------------


def scalar(sql: str, params: list | None = None) -> Any:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


def values(sql: str, params: list | None = None) -> list[float]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return [row[0] for row in cursor.fetchall()]


_unfinished: list[str] = []


def wait_until(what: str, done, *, timeout: float, every: float = 0.5) -> float:
    """Seconds until `done()` is true, with progress; past the timeout the benchmark goes on
    with what it has, and reports `what` as unfinished (a miss)."""
    began = last = time.monotonic()
    while not done():
        if time.monotonic() - began > timeout:
            harness.step(f"GAVE UP after {timeout:.0f} s waiting for {what}")
            _unfinished.append(what)
            break
        if time.monotonic() - last > 10:
            harness.step(f"still waiting for {what} ({time.monotonic() - began:.0f} s)")
            last = time.monotonic()
        time.sleep(every)
    return time.monotonic() - began


def outbox_left(consumer: str | None = None) -> int:
    if consumer is None:
        return scalar("SELECT count(*) FROM supportdesk_outboxentry WHERE parked_at IS NULL")
    return scalar("SELECT count(*) FROM supportdesk_outboxentry WHERE consumer = %s AND parked_at IS NULL",
                  [consumer])


def running_runs(workflow_ids: list[int]) -> int:
    return scalar("SELECT count(*) FROM workflows_workflowrun WHERE workflow_id = ANY(%s) AND status = 'running'",
                  [workflow_ids])


def event_latencies_ms(workflow_ids: list[int]) -> list[float]:
    """From the timeline event that triggered each run to its first step done."""
    return values("""
        SELECT extract(epoch FROM s.finished_at - e.created_at) * 1000
          FROM workflows_workflowrun r
          JOIN timeline_timelineevent e ON e.id = r.trigger_event_id
          JOIN workflows_workflowrunstep s ON s.run_id = r.id AND s.position = 0
         WHERE r.workflow_id = ANY(%s) AND s.finished_at IS NOT NULL""", [workflow_ids])


def outside_latencies_ms(workflow_ids: list[int]) -> list[float]:
    """From the triggering timeline event to the OMS call done, for the runs with one (their
    steps inside the desk come first, at once; the call follows in a task of its own)."""
    return values("""
        SELECT extract(epoch FROM s.finished_at - e.created_at) * 1000
          FROM workflows_workflowrun r
          JOIN timeline_timelineevent e ON e.id = r.trigger_event_id
          JOIN workflows_workflowrunstep s ON s.run_id = r.id AND s.action = 'oms_rebate'
         WHERE r.workflow_id = ANY(%s) AND s.finished_at IS NOT NULL""", [workflow_ids])


def accepted_latencies_ms(workflow_ids: list[int]) -> list[float]:
    """From the OMS event's acceptance by the webhook to its run's first step done, for the runs
    an order's creation triggered: the timeline event's own wait in the stored backlog counted
    too (the OMS drain gives way to the reactions: supportdesk.backpressure)."""
    return values("""
        SELECT extract(epoch FROM s.finished_at - o.received_at) * 1000
          FROM workflows_workflowrun r
          JOIN timeline_timelineevent e ON e.id = r.trigger_event_id AND e.kind = 'order.created'
          JOIN timeline_order ord ON ord.id = e.subject_id
          JOIN integrations_omsevent o ON o.event_type = 'order.created'
                                      AND o.payload -> 'data' -> 'order' ->> 'id' = ord.external_id
          JOIN workflows_workflowrunstep s ON s.run_id = r.id AND s.position = 0
         WHERE r.workflow_id = ANY(%s) AND s.finished_at IS NOT NULL""", [workflow_ids])


def timer_lateness_ms(workflow_ids: list[int]) -> list[float]:
    """From each timer's due time to its run's first step done; a timer that was due before the
    desk knew of its event (the OMS events' times are in the past) from when the event came."""
    return values("""
        SELECT extract(epoch FROM s.finished_at - greatest((r.trigger ->> 'timer_due_at')::timestamptz,
                                                          e.created_at)) * 1000
          FROM workflows_workflowrun r
          JOIN timeline_timelineevent e ON e.id = r.trigger_event_id
          JOIN workflows_workflowrunstep s ON s.run_id = r.id AND s.position = 0
         WHERE r.workflow_id = ANY(%s) AND s.finished_at IS NOT NULL""", [workflow_ids])


# --- the phases -----------------------------------------------------------------------------------


def intake(url: str, requests: list, concurrency: int, *, rate: float = 0.0) -> tuple[float, dict[int, int],
                                                                                  list[float]]:
    seconds, latencies, statuses = uvloop.run(oms_ingest.fire(url, requests, concurrency, rate=rate))
    accepted = statuses.get(202, 0)
    return accepted / max(seconds, 1e-9), statuses, latencies


def processed_all(timeout: float) -> float:
    return wait_until("the OMS events to be processed", lambda: scalar(
        "SELECT count(*) FROM integrations_omsevent WHERE status = 'pending'") == 0, timeout=timeout)


def membership_burst(events: int, segment_consumer: str, *, timeout: float) -> tuple[float, int]:
    """`events` timeline events for customers spread over the whole range, with the segments'
    outbox entries, written at once; seconds until the consumer has applied them all."""
    from django.db import connection

    from timeline.models import TIMELINE_STREAM

    # The generated customers' ids run without gaps (RESTART IDENTITY when they were generated).
    backlog = outbox_left(segment_consumer)  # what phase B left, if anything
    low, high = values_pairs("SELECT min(id), max(id) FROM timeline_contact WHERE kind = 'customer' "
                             "AND external_id LIKE 'BC%%'", [])[0]
    with connection.cursor() as cursor:
        cursor.execute("""
            WITH new AS (
                INSERT INTO timeline_timelineevent (contact_id, occurred_at, kind, actor, payload, subject_type,
                                                    subject_id, created_at)
                SELECT %s + (i::bigint * 7919) %% (%s - %s + 1), now(), 'contact.updated', 'bench',
                       jsonb_build_object('n', i), '', NULL, now()
                  FROM generate_series(1, %s) AS i
                RETURNING id)
            INSERT INTO supportdesk_outboxentry (stream, consumer, ref_id)
            SELECT %s, %s, id FROM new""", [low, high, low, events, TIMELINE_STREAM, segment_consumer])
    from workflows.segments.services import membership_drain

    def applied_all() -> bool:
        # The consumer's own service, driven from this process as well as by the beat's task
        # (which may wait in the worker's queue behind runs): one drainer at a time either way.
        membership_drain()
        return outbox_left(segment_consumer) == 0

    seconds = wait_until("the segments to apply the events", applied_all, timeout=timeout, every=0.0)
    return seconds, backlog + events - outbox_left(segment_consumer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000, help="customers (the largest segment's size)")
    parser.add_argument("--events", type=int, default=20_000, help="OMS events per intake phase")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rate", type=float, default=0.0,
                        help="OMS events a second in B (0: as fast as the webhook accepts them, as in A)")
    parser.add_argument("--customers", type=int, default=20_000, help="customers the OMS events are about")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--worker-concurrency", type=int, default=4, help="worker processes (make run's: 4)")
    parser.add_argument("--membership-events", type=int, default=20_000)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for each phase's work")
    harness.add_output_arguments(parser)
    args = parser.parse_args()
    if args.contacts < args.customers or args.customers < 20 or args.events < 4:
        parser.error("--contacts at least --customers, --customers 20+, --events 4+")
    started = time.monotonic()
    harness.yardsticks()  # before the benchmark's own load, once for the process
    # Its own Celery queue from the start: what this process queues (a segment's refresh after
    # its save) must reach the benchmark's worker, never a `make run` worker on the same Redis.
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    env = harness.bench_env(database=DATABASE, OMS_WEBHOOK_SECRET=SECRET, OMS_CLIENT="fake",
                            CELERY_TASK_DEFAULT_QUEUE=queue)
    harness.prepare_database(env)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")
    import warnings

    import django

    warnings.filterwarnings("ignore", "No directory at")
    django.setup()
    from django.utils import timezone

    from workflows.models import Workflow
    from workflows.segments.services import MEMBERSHIP_CONSUMER

    contacts_generate(args.contacts)
    world_reset()
    run = uuid.uuid4().hex[:6]
    segments = segments_create()
    fills = segments_refreshed()
    workflow_ids = workflows_create(run, segments)
    harness.step(f"{len(workflow_ids)} workflows published (not enabled yet)")

    harness.step(f"building 2 x {args.events:,} OMS events")
    without, _ = oms_ingest.build_requests(args.events, args.customers)
    with_workflows, _ = oms_ingest.build_requests(args.events, args.customers, seed=8)
    port = harness.free_port()
    schedule_file = f"/tmp/supportdesk-bench-beat-{queue}"
    web = [str(harness.VENV_BIN / "uvicorn"), "supportdesk.asgi:application", "--host", "127.0.0.1", "--port",
           str(port), "--workers", str(args.web_workers), "--no-access-log", "--log-level", "warning"]
    worker = [str(harness.VENV_BIN / "celery"), "-A", "supportdesk", "worker", "--loglevel", "WARNING",
              "--concurrency", str(args.worker_concurrency), "-Q", f"{queue},{queue}.ticks"]
    beat = [str(harness.VENV_BIN / "celery"), "-A", "supportdesk", "beat", "--loglevel", "WARNING",
            "-s", schedule_file]
    url = f"http://127.0.0.1:{port}/integrations/oms/webhook"
    event_ids = [pk for key, pk in workflow_ids.items() if "-event-" in key]
    timer_ids = [pk for key, pk in workflow_ids.items() if "-timer-" in key]
    everyone_schedule = workflow_ids[f"{WORKFLOW_PREFIX}schedule-0"]

    with harness.processes([web, worker, beat], env=env):
        harness.wait_for_port(port)
        time.sleep(3)  # every web worker and the beat booted
        # A segment made active is filled again by a task a moment later (for events written
        # meanwhile): over a million contacts it keeps the worker busy for a while. Done first,
        # while the segments are active (a refresh of an inactive segment empties it).
        wait_until("the segments' second fill", lambda: all(
            refreshed and refreshed > fills[pk] for pk, refreshed in segments_refreshed().items()),
            timeout=args.timeout)
        segments_activate(False)
        harness.step(f"A: {len(without):,} events, no workflow enabled, no segment active")
        rate_without, statuses_without, latencies_without = intake(url, without, args.concurrency)
        processed_all(args.timeout)

        workflows_enable(workflow_ids)
        segments_activate(True)
        time.sleep(6)  # the processes' caches of listened kinds (2 s) and active segments (5 s)
        harness.step(f"B: {len(with_workflows):,} events, {len(workflow_ids)} workflows enabled, "
                     f"{len(segments)} segments active"
                     + (f", sent at {args.rate:,.0f}/s" if args.rate else ", as fast as accepted"))
        began = time.monotonic()
        rate_with, statuses_with, latencies_with = intake(url, with_workflows, args.concurrency, rate=args.rate)
        segment_backlog_at_end = outbox_left(MEMBERSHIP_CONSUMER)
        processed_all(args.timeout)
        time.sleep(TIMER_MINUTES * 60 + 2)  # the last timers come due
        wait_until("the triggered runs to finish", lambda: outbox_left() == 0 and running_runs(
            event_ids + timer_ids) == 0 and scalar("SELECT count(*) FROM workflows_workflowtimer") == 0,
            timeout=args.timeout)
        b_seconds = time.monotonic() - began
        event_ms, timer_ms = event_latencies_ms(event_ids), timer_lateness_ms(timer_ids)
        outside_ms = outside_latencies_ms(event_ids)
        accepted_ms = accepted_latencies_ms(event_ids)
        runs_by_status = dict(values_pairs("SELECT status, count(*) FROM workflows_workflowrun "
                                           "WHERE workflow_id = ANY(%s) GROUP BY status", [event_ids + timer_ids]))

        harness.step(f"C: the schedule over bench-everyone ({args.contacts:,} members) comes due")
        due = timezone.now()
        Workflow.objects.filter(pk=everyone_schedule).update(next_fire_at=due)
        schedule_began = time.monotonic()
        # What the beat's tick calls each second, called here too (a tick may wait in the worker's
        # queue behind runs); whichever takes the workflow's row fires it, once.
        from workflows.services import schedules_fire

        schedules_fire()
        # Fired (by this call or the tick's) once its next time moved on, which it does only when
        # every chunk of runs is in; then done once none of them is running.
        wait_until("the schedule's firing and its runs", lambda: scalar(
            "SELECT next_fire_at > %s FROM workflows_workflow WHERE id = %s", [due, everyone_schedule])
            and running_runs([everyone_schedule]) == 0, timeout=args.timeout, every=0.2)
        schedule_wall = time.monotonic() - schedule_began
        schedule_runs = scalar("SELECT count(*) FROM workflows_workflowrun WHERE workflow_id = %s AND "
                               "status = 'done'", [everyone_schedule])
        schedule_last = scalar("SELECT extract(epoch FROM max(finished_at) - %s) FROM workflows_workflowrun "
                               "WHERE workflow_id = %s", [due, everyone_schedule])
        # The runs' finished_at is their transaction's start (now()): the wall time until this
        # process saw them all done bounds it from above, and counts the whole firing.
        schedule_seconds = max(float(schedule_last or 0), schedule_wall)

        harness.step(f"D: {args.membership_events:,} timeline events for the segments at once")
        membership_seconds, membership_events = membership_burst(args.membership_events, MEMBERSHIP_CONSUMER,
                                                                timeout=args.timeout)
        membership_rate = membership_events / max(membership_seconds, 1e-9)
        lost = len(without) + len(with_workflows) - scalar("SELECT count(*) FROM integrations_omsevent")
        failed_events = scalar("SELECT count(*) FROM integrations_omsevent WHERE status = 'failed'")
        parked = scalar("SELECT count(*) FROM supportdesk_outboxentry WHERE parked_at IS NOT NULL")
        failed_runs = scalar("SELECT count(*) FROM workflows_workflowrun WHERE status = 'failed'")

    ratio = rate_with / max(rate_without, 1e-9)
    event_p99 = harness.percentile(event_ms, 0.99)
    timer_p99 = harness.percentile(timer_ms, 0.99)
    print()
    print("Workflows and segments under OMS load")
    harness.yardstick_header()
    print(f"  {harness.machine_line()}; web: uvicorn x{args.web_workers}, worker: celery "
          f"x{args.worker_concurrency}, beat, PostgreSQL, Redis and the load generator on the same machine")
    print(f"  world: {args.contacts:,} customers; segments {', '.join(SEGMENTS)}; {len(workflow_ids)} workflows "
          f"({len(event_ids)} on events, {len(timer_ids)} timers {TIMER_MINUTES * 60:.0f} s after an order, "
          "2 schedules)")

    def met(ok: bool) -> str:
        return "yes" if ok else "NO"

    rows = [["measure", "figure", "target", "met"]]
    rows.append(["A. OMS events accepted, no workflows",
                 harness.rate("accepted without workflows", rate_without, "events/s"), "", ""])
    rows.append(["B. OMS events accepted, 50 workflows",
                 harness.rate("accepted with 50 workflows", rate_with, "events/s"), "", ""])
    if args.rate:  # B was paced: its rate is the pace, not what the webhook can take
        rows.append(["   B / A", f"not compared (B sent at {args.rate:,.0f}/s)", "", ""])
    else:
        rows.append(["   B / A", f"{ratio:.0%}", f">= {INTAKE_RATIO_TARGET:.0%}",
                     met(ratio >= INTAKE_RATIO_TARGET)])
    rows.append([f"   event trigger to action ({len(event_ms):,} runs)",
                 f"p50 {harness.percentile(event_ms, 0.5):,.0f} ms, p99 {event_p99:,.0f} ms",
                 f"p99 < {EVENT_P99_TARGET_MS:,.0f} ms", met(bool(event_ms) and event_p99 < EVENT_P99_TARGET_MS)])
    rows.append([f"   timer past due to action ({len(timer_ms):,} runs)",
                 f"p50 {harness.percentile(timer_ms, 0.5):,.0f} ms, p99 {timer_p99:,.0f} ms",
                 f"p99 < {TIMER_P99_TARGET_MS:,.0f} ms", met(bool(timer_ms) and timer_p99 < TIMER_P99_TARGET_MS)])
    rows.append([f"C. schedule over {args.contacts:,} members",
                 f"{schedule_seconds:.1f} s ({schedule_runs:,} runs done)", f"< {SCHEDULE_TARGET_SECONDS:.0f} s",
                 met(schedule_seconds < SCHEDULE_TARGET_SECONDS and schedule_runs == args.contacts)])
    rows.append([f"D. segment membership ({membership_events:,} events, 4 segments)",
                 harness.rate("segment membership updates", membership_rate, "events/s"),
                 f">= {MEMBERSHIP_TARGET_PER_SECOND:,.0f}/s",
                 met(membership_rate >= MEMBERSHIP_TARGET_PER_SECOND)])
    harness.table(rows)
    print(f"  intake latencies: A {harness.describe_latencies(latencies_without)}; "
          f"B {harness.describe_latencies(latencies_with)}")
    print(f"  B: event trigger to the OMS rebate done, for the {len(outside_ms):,} runs with one: "
          f"p50 {harness.percentile(outside_ms, 0.5):,.0f} ms, p99 {harness.percentile(outside_ms, 0.99):,.0f} ms")
    print(f"  B: OMS event accepted to the first action, for the {len(accepted_ms):,} event-triggered runs of "
          f"orders' creations: p50 {harness.percentile(accepted_ms, 0.5):,.0f} ms, "
          f"p99 {harness.percentile(accepted_ms, 0.99):,.0f} ms")
    print(f"  B: triggered runs by status {runs_by_status}; segments' outbox backlog when the last event was "
          f"accepted: {segment_backlog_at_end:,}; everything processed {b_seconds:.0f} s after B began")
    print(f"  lost OMS events: {lost}, failed: {failed_events}; parked outbox entries: {parked}; "
          f"failed runs: {failed_runs}; statuses A {statuses_without}, B {statuses_with}")
    print(f"  wall time: {(time.monotonic() - started) / 60:.1f} min")
    consistent = (lost == 0 and failed_events == 0 and parked == 0 and failed_runs == 0
                  and statuses_without == {202: len(without)} and statuses_with == {202: len(with_workflows)})
    print(f"  consistency: {'OK' if consistent else 'FAILED'}")
    harness.json_write(args, benchmark="workflows", consistent=consistent)
    if _unfinished:
        print(f"  UNFINISHED within --timeout {args.timeout:.0f} s: {'; '.join(_unfinished)} (the figures above "
              "count what was done by then)")
    misses = [row[0].strip() for row in rows[1:] if row[3] == "NO"]
    misses += [f"unfinished: {what}" for what in _unfinished]
    if misses or not consistent:
        raise SystemExit("workflows benchmark: " + "; ".join(misses + ([] if consistent else ["consistency"])))


def values_pairs(sql: str, params: list) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


if __name__ == "__main__":
    main()
