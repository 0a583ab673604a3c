"""One module of about 630 lines, on purpose: the driver, the drainer process it starts and the figures
it prints share one run's set-up and timings; split, none would run alone.

The rollups' pace (tests.bench.reports, `--only rollups`): do the counters per hour keep up
with a busy desk?

In a scratch database of its own (`<database>_bench_reports_pace`, emptied each run), a driver
takes `--rate` conversations a second through their lives, writing what the desk's services
write at each step, with the same writers (the outbox entries come with the rows, in the
same statement, as in production):

    second  0  opened: the conversation, the contact's first message (messages' outbox), the
               conversation.opened timeline event (timeline.events), its work item and the
               routing history's `queued` (outbox_bulk_create on routing's history stream)
            2  offered to an agent;  4  accepted (the item assigned)
            8, 20, 32  the agent's replies (messages' outbox); 16, 28 the contact writes again
           40  resolved: status and resolved_at, conversation.status_changed, the item
               completed and its `completed`
           42  the survey sent to 60 % (a Survey row and survey.sent)
           50  a rating from a third of those (the conversation's rating and rating.given)

Each step of each second's cohort is one transaction, of bulk statements (routing's services
write one item's history at a time; the rows and outbox entries are the same). That is 200
conversations resolved and about 2,000 events a second for the reports' three consumers
(routing history, timeline, replies) at the default rate. The desk's other consumers of those
streams get their entries too; nothing drains them here, so they are deleted every few
seconds to keep the outbox the size it has where they are drained.

A separate process plays the beat and one worker process: it calls the beat's task
`reports.tasks.rollups_drain` (rounds of a batch of 2,000 from each consumer, up to 10 rounds) every 2 s
(REPORTS_ROLLUPS_INTERVAL_SECONDS); a call that takes longer is followed at once by the next.

Every second the lag is sampled: now minus the creation of the oldest entry the reports'
consumers have not applied (0 with none). After `--warmup` seconds (every step running) the
lag and the rates are measured over `--seconds`; then the driver finishes the cohorts it
opened, and the time to apply everything left is measured. Last, a check: the counters hold
every conversation created, resolved, surveyed and rated, and every item arrived and answered.

    python -m tests.bench.reports_pace [--rate 200] [--seconds 60] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.bench import harness

DATABASE = "bench_reports_pace"
INTERVAL_SECONDS = 2.0  # the beat's REPORTS_ROLLUPS_INTERVAL_SECONDS
LAG_TARGET_SECONDS = 10.0
DRAIN = "reports.tasks:rollups_drain"
AGENTS = 100
CONTACTS = 200_000
REPEAT_SHARE = 0.08  # conversations from a contact who wrote shortly before, on the same reason
REASONS = ["late_order", "missing_item", "refund", "order_status"]
SURVEYED_SHARE, RATED_SHARE = 0.6, 1 / 3
LIFE_SECONDS = 51  # from the open to the last step of a conversation


@dataclass
class Cohort:
    """The conversations opened in one second, and what their later steps need."""

    number: int
    conversations: list[int] = field(default_factory=list)
    contacts: list[int] = field(default_factory=list)
    items: list[int] = field(default_factory=list)
    agents: list[tuple[int, int]] = field(default_factory=list)  # (profile id, user id)
    resolutions: list[int] = field(default_factory=list)  # the status events' ids
    surveys: list[int] = field(default_factory=list)


@dataclass
class World:
    queue_id: int
    queue_priority: int
    agents: list[tuple[int, int]]
    contacts: list[int]


# --- the world -----------------------------------------------------------------------------------


def world_reset() -> World:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from conversations.models import ContactReason
    from routing.models import AgentProfile, Queue
    from tests.bench import reports_data
    from timeline.models import Contact

    harness.step("emptying the scratch database (its contacts are kept)")
    kept = Contact.objects.filter(external_id__startswith="PACE").count() == CONTACTS
    tables = [table for table in reports_data.DATA_TABLES if table != "timeline_contact" or not kept]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join([*tables, 'workflows_survey'])} RESTART IDENTITY CASCADE")
        if not kept:
            harness.step(f"{CONTACTS:,} contacts")
            sql, params = harness.insert_select_sql(Contact, {
                "kind": "'customer'", "external_id": "'PACE' || i", "name": "'Customer ' || i",
                "preferred_language": "'es'", "country": "'ES'", "created_at": "now()", "updated_at": "now()",
            }, connection=connection, source=f"generate_series(1, {CONTACTS}) AS i")
            cursor.execute(sql, params)
    queue, _ = Queue.objects.update_or_create(key="chat.es", defaults={"name": "Chat (Spanish)",
                                                                       "target_wait_seconds": 60, "priority": 50})
    for key in REASONS:
        ContactReason.objects.update_or_create(key=key, defaults={"label": key.replace("_", " ").capitalize()})
    user_model = get_user_model()
    user_model.objects.filter(username__startswith="bench-pace-agent-").delete()
    users = user_model.objects.bulk_create([user_model(username=f"bench-pace-agent-{number:03d}", password="!")
                                            for number in range(AGENTS)])
    profiles = AgentProfile.objects.bulk_create([AgentProfile(user=user, languages=["es", "en"],
                                                              contact_kinds=["customer"]) for user in users])
    contacts = list(Contact.objects.order_by("pk").values_list("pk", flat=True))
    return World(queue_id=queue.pk, queue_priority=queue.priority,
                 agents=[(profile.pk, user.pk) for profile, user in zip(profiles, users, strict=True)],
                 contacts=contacts)


# --- the driver: each step of a conversation's life, for a cohort at once --------------------------


def contact_of(world: World, number: int) -> int:
    """The contact of the driver's `number`-th conversation: a new one each time, but for
    REPEAT_SHARE of them the contact of one a few hundred conversations before (a contact
    writing again; their reason is the same: `reason_of`)."""
    if number >= 1000 and (number * 2654435761) % 1000 < REPEAT_SHARE * 1000:
        number -= 200 + number % 800
    return world.contacts[number * 7919 % len(world.contacts)]


def reason_of(contact_id: int) -> str:
    return REASONS[contact_id % len(REASONS)]


def step_open(world: World, cohort: Cohort, rate: int) -> dict[str, int]:
    from django.db import transaction
    from django.utils import timezone

    from conversations.models import MESSAGE_STREAM, Conversation, Message
    from routing.models import HISTORY_STREAM, WorkItem, WorkItemEvent
    from supportdesk import outbox
    from timeline import events

    now = timezone.now()
    first = cohort.number * rate
    contacts = [contact_of(world, first + index) for index in range(rate)]
    with transaction.atomic():
        conversations = Conversation.objects.bulk_create([
            Conversation(contact_id=contact, channel="chat", language="es", last_message_sequence=1,
                         last_message_at=now, routed_at=now) for contact in contacts])
        outbox.outbox_bulk_create([Message(conversation=conversation, sequence=1, direction="in",
                                           body="Hola, mi pedido llega tarde") for conversation in conversations],
                                  stream=MESSAGE_STREAM)
        with events.buffered():
            for conversation in conversations:
                events.conversation_opened_event(contact_id=conversation.contact_id,
                                                 conversation_id=conversation.pk, channel="chat", subject="",
                                                 occurred_at=now, actor="contact")
        items = WorkItem.objects.bulk_create([
            WorkItem(conversation_id=conversation.pk, channel="chat", language="es", contact_kind="customer",
                     queue_id=world.queue_id, queue_priority=world.queue_priority, enqueued_at=now, queued_at=now)
            for conversation in conversations])
        outbox.outbox_bulk_create([WorkItemEvent(item=item, kind="queued", at=now, queue_id=world.queue_id)
                                   for item in items], stream=HISTORY_STREAM)
    cohort.conversations = [conversation.pk for conversation in conversations]
    cohort.contacts = contacts
    cohort.items = [item.pk for item in items]
    cohort.agents = [world.agents[(first + index) % len(world.agents)] for index in range(rate)]
    return {"timeline": rate, "routing": rate}


def _history(cohort: Cohort, kind: str, item_sql: str) -> dict[str, int]:
    """One step of routing's history for the cohort's items: the items' row changed (`item_sql`,
    SET clauses over `now` and each item's `agent`) and the event written with its outbox entries."""
    from django.db import connection, transaction
    from django.utils import timezone

    from routing.models import HISTORY_STREAM, WorkItemEvent
    from supportdesk import outbox

    now = timezone.now()
    agents = [agent for agent, _user in cohort.agents]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"""UPDATE routing_workitem AS w SET {item_sql}
                                 FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, agent), (SELECT %s::timestamptz
                                                                                            AS now) AS t
                                WHERE w.id = v.id""", [cohort.items, agents, now])
        outbox.outbox_bulk_create([WorkItemEvent(item_id=item, kind=kind, at=now, agent_id=agent)
                                   for item, agent in zip(cohort.items, agents, strict=True)],
                                  stream=HISTORY_STREAM)
    return {"routing": len(cohort.items)}


def step_offer(world: World, cohort: Cohort, rate: int) -> dict[str, int]:
    return _history(cohort, "offered", "state = 'offered', offered_at = t.now")


def step_accept(world: World, cohort: Cohort, rate: int) -> dict[str, int]:
    return _history(cohort, "accepted", "state = 'assigned', agent_id = v.agent, answered_at = t.now, "
                                        "assigned_at = t.now")


def _messages(cohort: Cohort, sequence: int, *, reply: bool) -> dict[str, int]:
    from django.db import transaction
    from django.utils import timezone

    from conversations.models import MESSAGE_STREAM, Conversation, Message
    from supportdesk import outbox

    now = timezone.now()
    with transaction.atomic():
        outbox.outbox_bulk_create([
            Message(conversation_id=conversation, sequence=sequence, direction="out" if reply else "in",
                    author_user_id=user if reply else None, body="…")
            for conversation, (_agent, user) in zip(cohort.conversations, cohort.agents, strict=True)],
            stream=MESSAGE_STREAM)
        fields: dict[str, Any] = {"last_message_sequence": sequence, "last_message_at": now}
        if reply and sequence == 2:
            fields["first_response_at"] = now
        Conversation.objects.filter(pk__in=cohort.conversations).update(**fields, updated_at=now)
    return {"messages": len(cohort.conversations)} if reply else {}


def step_resolve(world: World, cohort: Cohort, rate: int) -> dict[str, int]:
    from django.db import transaction
    from django.utils import timezone

    from conversations.models import Conversation
    from timeline import events

    now = timezone.now()
    with transaction.atomic():
        for reason in REASONS:
            Conversation.objects.filter(pk__in=[conversation for conversation, contact
                                                in zip(cohort.conversations, cohort.contacts, strict=True)
                                                if reason_of(contact) == reason]).update(
                status="resolved", resolved_at=now, contact_reason=reason, updated_at=now)
        with events.buffered() as written:
            for conversation, contact in zip(cohort.conversations, cohort.contacts, strict=True):
                events.conversation_status_changed_event(contact_id=contact, conversation_id=conversation,
                                                         status="resolved", occurred_at=now, actor="agent")
        _history(cohort, "completed", "state = 'completed', completed_at = t.now")
    cohort.resolutions = [event.pk for event in written]
    return {"timeline": rate, "routing": rate, "resolved": rate}


def step_survey(world: World, cohort: Cohort, rate: int) -> dict[str, int]:
    from django.db import transaction
    from django.utils import timezone

    from timeline import events
    from workflows.surveys.models import Survey

    now = timezone.now()
    chosen = range(0, round(rate * SURVEYED_SHARE))
    with transaction.atomic():
        surveys = Survey.objects.bulk_create([
            Survey(conversation_id=cohort.conversations[index], contact_id=cohort.contacts[index],
                   resolution_event_id=cohort.resolutions[index], channel="chat", queue_key="chat.es",
                   agent_id=cohort.agents[index][1], language="es", state="sent", due_at=now, sent_at=now)
            for index in chosen])
        with events.buffered():
            for survey in surveys:
                events.survey_sent_event(contact_id=survey.contact_id, conversation_id=survey.conversation_id,
                                         survey_id=survey.pk, channel="chat", occurred_at=now)
    cohort.surveys = [survey.pk for survey in surveys]
    return {"timeline": len(surveys), "surveyed": len(surveys)}


def step_rate(world: World, cohort: Cohort, rate: int) -> dict[str, int]:
    from django.db import transaction
    from django.utils import timezone

    from conversations.services.ratings import conversation_rating_record
    from timeline import events
    from workflows.surveys.models import Survey

    now = timezone.now()
    rated = list(zip(cohort.surveys, cohort.conversations, cohort.contacts, strict=False))
    rated = rated[:round(len(rated) * RATED_SHARE)]
    with transaction.atomic():
        with events.buffered():
            for position, (survey, conversation, contact) in enumerate(rated):
                score = (5, 5, 4, 5, 3, 4, 5, 1, 5, 4)[position % 10]
                conversation_rating_record(conversation_id=conversation, score=score, comment="", rated_at=now)
                Survey.objects.filter(pk=survey).update(score=score, state="answered", rated_at=now)
                events.rating_given_event(contact_id=contact, conversation_id=conversation, survey_id=survey,
                                          score=score, comment="", channel="chat", rated_at=now, changed=False,
                                          occurred_at=now)
    return {"timeline": len(rated), "rated": len(rated)}


STEPS = [(0, step_open), (2, step_offer), (4, step_accept),
         (8, lambda world, cohort, rate: _messages(cohort, 2, reply=True)),
         (16, lambda world, cohort, rate: _messages(cohort, 3, reply=False)),
         (20, lambda world, cohort, rate: _messages(cohort, 4, reply=True)),
         (28, lambda world, cohort, rate: _messages(cohort, 5, reply=False)),
         (32, lambda world, cohort, rate: _messages(cohort, 6, reply=True)),
         (40, step_resolve), (42, step_survey), (50, step_rate)]
CONVERSATION_STEPS = "opened, offered (2 s), accepted (4 s), replies (8, 20, 32 s), resolved (40 s), " \
                     "surveyed (42 s), rated (50 s)"


# --- the lag ---------------------------------------------------------------------------------------


class Monitor(threading.Thread):
    """Every second: the lag and what is pending for the reports' consumers; every 5 s the
    other consumers' entries deleted (nothing drains them here)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float, int]] = []  # (monotonic, lag seconds, pending)
        self.stop = threading.Event()
        self.deleted = 0

    def run(self) -> None:
        from django.db import connection

        from reports.rollups import CONSUMERS

        last_cleanup = time.monotonic()
        try:
            while not self.stop.is_set():
                began = time.monotonic()
                with connection.cursor() as cursor:
                    # The oldest pending entry of each consumer, through the drain's own index.
                    cursor.execute("""
                        SELECT extract(epoch FROM clock_timestamp() - min(oldest)), sum(pending)
                          FROM unnest(%s::text[]) AS c(name)
                               CROSS JOIN LATERAL (SELECT (SELECT created_at FROM supportdesk_outboxentry
                                                            WHERE consumer = c.name AND parked_at IS NULL
                                                            ORDER BY id LIMIT 1) AS oldest,
                                                          (SELECT count(*) FROM supportdesk_outboxentry
                                                            WHERE consumer = c.name AND parked_at IS NULL)
                                                              AS pending) AS p""", [list(CONSUMERS)])
                    lag, pending = cursor.fetchone()
                    self.samples.append((began, max(float(lag or 0.0), 0.0), int(pending or 0)))
                    if began - last_cleanup >= 5:
                        cursor.execute("DELETE FROM supportdesk_outboxentry WHERE NOT consumer = ANY(%s)",
                                       [list(CONSUMERS)])
                        self.deleted += cursor.rowcount
                        last_cleanup = began
                self.stop.wait(max(0.0, 1.0 - (time.monotonic() - began)))
        finally:
            connection.close()


# --- the drainer (the beat and one worker process) ------------------------------------------------


def drainer(log: Path, drain: str) -> None:
    """Call the beat's task (or `drain`, "module:function", to measure another) every
    INTERVAL_SECONDS, as the beat and one worker process would (a call that overruns is
    followed at once by the next); log each call (end time, entries handled, seconds)."""
    import importlib

    from django.db import connection

    module, name = drain.split(":")
    rollups_drain = getattr(importlib.import_module(module), name)

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    with log.open("a") as out:
        out.write(json.dumps({"backend": backend}) + "\n")
        out.flush()
        due = time.monotonic()
        while True:
            time.sleep(max(0.0, due - time.monotonic()))
            began = time.monotonic()
            handled = rollups_drain()
            call = {"at": time.time(), "handled": handled, "seconds": time.monotonic() - began}
            out.write(json.dumps(call) + "\n")
            out.flush()
            # The beat's next tick; one that came while this call ran waited for it (one worker process).
            due = max(due + INTERVAL_SECONDS, time.monotonic())


# --- the measurement ---------------------------------------------------------------------------------


def counters_check(totals: dict[str, int]) -> str:
    """The counters hold every conversation and item the driver wrote (once the lag is 0)."""
    from django.db import connection

    from supportdesk.models import OutboxEntry

    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(sum(created), 0), coalesce(sum(resolved), 0), coalesce(sum(surveyed), 0), "
                       "coalesce(sum(rated), 0), coalesce(sum(arrived), 0), coalesce(sum(answered), 0), "
                       "coalesce(sum(first_reply_count), 0), coalesce(sum(next_reply_count), 0) "
                       "FROM reports_hourrollup")
        found = dict(zip(("created", "resolved", "surveyed", "rated", "arrived", "answered", "first replies",
                          "next replies"), (int(value) for value in cursor.fetchone()), strict=True))
    expected = {"created": totals["opened"], "resolved": totals["resolved"], "surveyed": totals["surveyed"],
                "rated": totals["rated"], "arrived": totals["opened"], "answered": totals["opened"],
                "first replies": totals["opened"], "next replies": 2 * totals["opened"]}
    parked = OutboxEntry.objects.filter(parked_at__isnull=False).count()
    wrong = {name: (found[name], value) for name, value in expected.items() if found[name] != value}
    if not wrong and not parked:
        return "OK"
    return f"FAILED (counted, expected: {wrong}; parked entries: {parked})"


def measure(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    world = world_reset()
    log = (Path(args.out).with_suffix(".drainer.log") if args.out
           else Path(tempfile.gettempdir()) / f"supportdesk-bench-reports-drainer-{os.getpid()}.log")
    log.write_text("")
    rate = int(args.rate)
    opening = int(args.warmup + args.seconds)  # cohorts opened; all their steps run to the end
    ticks = opening + LIFE_SECONDS
    cohorts: dict[int, Cohort] = {}
    counts: dict[str, int] = {}
    window_counts: dict[str, int] = {}
    late = 0
    monitor = Monitor()
    drainer_command = [sys.executable, "-m", "tests.bench.reports_pace", "--drainer", str(log),
                       "--drain", args.drain]
    with harness.processes([drainer_command], env=env) as (drainer_pid,):
        while not log.read_text().strip():
            time.sleep(0.1)
        backend = json.loads(log.read_text().splitlines()[0])["backend"]
        monitor.start()
        harness.step(f"driving {rate} conversations a second through their lives ({CONVERSATION_STEPS}): "
                     f"{args.warmup:.0f} s to reach every step, {args.seconds:.0f} s measured, "
                     f"then {LIFE_SECONDS} s finishing the cohorts")
        t0 = time.monotonic()
        window = (t0 + args.warmup, t0 + args.warmup + args.seconds)
        marks: dict[str, Any] = {}
        for tick in range(ticks):
            now = time.monotonic()
            if t0 + tick > now:
                time.sleep(t0 + tick - now)
            for name, moment in (("start", window[0]), ("end", window[1])):
                if name not in marks and time.monotonic() >= moment:
                    marks[name] = (time.monotonic(), harness.process_cpu_seconds(drainer_pid),
                                   harness.process_cpu_seconds(backend), harness.machine_busy_seconds(),
                                   time.time(), harness.process_cpu_seconds(os.getpid()))
            measuring = "start" in marks and "end" not in marks
            for offset, step in STEPS:
                number = tick - offset
                if not 0 <= number < opening:
                    continue
                cohort = cohorts.setdefault(number, Cohort(number=number))
                for name, value in step(world, cohort, rate).items():
                    counts[name] = counts.get(name, 0) + value
                    if measuring:
                        window_counts[name] = window_counts.get(name, 0) + value
                if offset == STEPS[-1][0]:
                    cohorts.pop(number, None)
            counts["opened"] = min(tick + 1, opening) * rate
            if time.monotonic() > t0 + tick + 1:
                late += 1
            if tick % 10 == 9:
                lag = monitor.samples[-1][1] if monitor.samples else 0.0
                harness.step(f"{tick + 1} s: {counts.get('resolved', 0):,} resolved, lag {lag:.1f} s, "
                             f"pending {monitor.samples[-1][2] if monitor.samples else 0:,}")
        produced_end = time.monotonic()
        harness.step("the driver is done; waiting for the drainer to apply what is left")
        while True:
            if monitor.samples and monitor.samples[-1][0] > produced_end and monitor.samples[-1][2] == 0:
                break
            if time.monotonic() - produced_end > 600:
                harness.step("GAVE UP waiting for the drainer after 600 s")
                break
            time.sleep(0.2)
        catch_up = time.monotonic() - produced_end
        monitor.stop.set()
        monitor.join()
    calls = [json.loads(line) for line in log.read_text().splitlines()[1:]]
    start, end = marks["start"], marks["end"]
    during = [call for call in calls if call["at"] >= start[4] and call["at"] - call["seconds"] <= end[4]]
    seconds = end[0] - start[0]
    in_window = [sample for sample in monitor.samples if start[0] <= sample[0] <= end[0]]
    pending_start, pending_end = in_window[0][2], in_window[-1][2]
    events = sum(window_counts.get(name, 0) for name in ("routing", "timeline", "messages"))
    drained = events - (pending_end - pending_start)
    return {
        "database": args.database_name,
        "description": f"{rate} conversations a second ({CONVERSATION_STEPS}), chat, one queue, {AGENTS} "
                       f"agents, {CONTACTS:,} contacts ({REPEAT_SHARE:.0%} of conversations from a contact who "
                       f"wrote a few seconds before, on the same reason); other consumers' entries deleted: "
                       f"{monitor.deleted:,}",
        "window_seconds": seconds,
        "resolved_per_second": window_counts.get("resolved", 0) / seconds,
        "events_per_second": events / seconds,
        "events_by_consumer": {name: window_counts.get(name, 0) / seconds for name in ("routing", "timeline",
                                                                                       "messages")},
        "drained_events": drained,
        "drained_per_second": drained / seconds,
        "lag_seconds": [lag for _at, lag, _pending in in_window],
        "lag_after_seconds": [lag for at, lag, _pending in monitor.samples if at > end[0]],
        "drainer_cpu_seconds": end[1] - start[1],
        "drainer_backend_cpu_seconds": end[2] - start[2],
        "machine_busy_cores": (end[3] - start[3]) / seconds,
        "driver_cores": (end[5] - start[5]) / seconds,  # this process: the driver and the sampling
        # The calls that ran during the window (ended in it, or began before its end).
        "drainer_calls": len(during),
        "drainer_call_seconds": [call["seconds"] for call in during],
        "interval": INTERVAL_SECONDS,
        "drain": args.drain,
        "ticks": ticks, "driver_late_ticks": late,
        "catch_up_seconds": catch_up,
        "totals": counts,
        "consistency": counters_check(counts),
    }


def drain_profile(*, batch: int = 500, top: int = 18) -> dict[str, Any]:
    """Where a drain's time goes: `reports.rollups.conversations_refresh` on `batch` of the run's
    resolved conversations (as one batch of 500 routing events asks for): its wall time, CPU,
    statements and its PostgreSQL backend's CPU, then a cProfile of it. Their facts are up to date, as
    for most refreshes (an event changes a fact or two), so the few writes are left out."""
    import cProfile
    import io
    import pstats

    from django.db import connection

    from reports.rollups import conversations_refresh

    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM conversations_conversation WHERE status = 'resolved' "
                       "ORDER BY id DESC LIMIT %s", [batch])
        ids = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    conversations_refresh(ids)  # warm: caches, the first statements' plans
    statements: list[str] = []

    def count(execute, sql, params, many, context):  # noqa: ANN001 (Django's execute_wrapper)
        statements.append(" ".join(sql.split())[:60])
        return execute(sql, params, many, context)

    backend_before, cpu_before, began = harness.process_cpu_seconds(backend), time.process_time(), time.monotonic()
    with connection.execute_wrapper(count):
        conversations_refresh(ids)
    wall, cpu = time.monotonic() - began, time.process_time() - cpu_before
    backend_cpu = harness.process_cpu_seconds(backend) - backend_before
    profiler = cProfile.Profile()  # once more, under the profiler (which slows it down)
    profiler.enable()
    conversations_refresh(ids)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return {"conversations": len(ids), "wall_ms": wall * 1000, "python_cpu_ms": cpu * 1000,
            "postgresql_cpu_ms": backend_cpu * 1000, "statements": len(statements),
            "statement_kinds": sorted({sql for sql in statements}), "profile": out.getvalue()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="conversations opened (and resolved) a second")
    parser.add_argument("--seconds", type=float, default=60.0, help="the measured window")
    parser.add_argument("--warmup", type=float, default=LIFE_SECONDS,
                        help="seconds before it (every step running)")
    parser.add_argument("--out", help="write the figures as JSON here")
    parser.add_argument("--profile", action="store_true",
                        help="also profile a drain of 500 conversations (done anyway when the lag misses)")
    parser.add_argument("--profile-only", action="store_true", help="profile the drain on the last run's data")
    parser.add_argument("--drain", default=DRAIN, metavar="MODULE:FUNCTION",
                        help=f"what the drainer calls every {INTERVAL_SECONDS:.0f} s (default {DRAIN}, the "
                             "beat's task); another function to measure an alternative drain")
    parser.add_argument("--drainer", metavar="LOG", help=argparse.SUPPRESS)  # the drainer process
    args = parser.parse_args()
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    args.database_name = harness.bench_database_url(DATABASE).rsplit("/", 1)[1]
    env = harness.bench_env(database=DATABASE, DATABASE_POOL="false", CELERY_TASK_DEFAULT_QUEUE=queue)
    if args.drainer:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")
        import django

        django.setup()
        drainer(Path(args.drainer), args.drain)
        return
    harness.prepare_database(env)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")
    import warnings

    import django

    warnings.filterwarnings("ignore", "No directory at")
    django.setup()
    if args.profile_only:
        print(json.dumps(drain_profile(), indent=2, default=str))
        return
    try:
        results = measure(args, env)
    finally:
        _queue_purge(queue)
    if args.profile or max(results["lag_seconds"]) >= LAG_TARGET_SECONDS:
        harness.step("profiling conversations_refresh on 500 conversations (one drain batch)")
        results["drain_profile"] = drain_profile()
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2, default=str))
    lags = results["lag_seconds"]
    harness.step(f"offered {results['events_per_second']:,.0f} events/s ({results['resolved_per_second']:,.0f} "
                 f"resolved/s), applied {results['drained_per_second']:,.0f}/s; lag p50 "
                 f"{harness.percentile(lags, 0.5):.1f} s, p95 {harness.percentile(lags, 0.95):.1f} s, max "
                 f"{max(lags):.1f} s; consistency {results['consistency']}")


def _queue_purge(queue: str) -> None:
    """The tasks the producers' kicks sent to this run's own queue (no worker takes them)."""
    from supportdesk.celery import app

    try:
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge(queue)
    except Exception as error:  # the broker's leftovers are no reason to lose the figures
        harness.step(f"could not empty the Celery queue {queue}: {error}")


if __name__ == "__main__":
    main()
