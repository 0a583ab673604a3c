"""Where the worker's CPU goes per inbound email, as the channels benchmark's A sends them.

In its own database (`<database>_bench_emailprof`, dropped of earlier emails each run), the
channels benchmark's emails (50 KB HTML bodies, 400 senders, about half of each sender's
later emails replies threaded on their earlier one) are stored as the SMTP server stores
them (`email_inbound_store`; its CPU and statements are reported apart, as "intake"), then
processed by the worker's drain (`inbound_emails_drain`, as the task calls it) in this
process, with Celery eager so the routing task each new conversation asks for runs here too:

The emails come from one build of them all, as in the benchmark's run (400 senders).

- per email: CPU in this process (the drain, the routing tasks, the push thread) and in its
  PostgreSQL backend, statements (each a round trip; BEGIN and COMMIT not counted), wall time,
  and the same split by phase (parsing, bodies, trimming, the contacts, threading, the
  messages, routing, ...);
- --statements N: N more emails' statements by phase, with how often each ran;
- --profiled N more emails under cProfile (this thread's CPU): the top functions.

    python -m tests.bench.email_profile [--emails 1000] [--warm 200] [--profiled 500]
        [--statements 200] [--top 30] [--database-url postgres://.../scratch]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time
from collections import Counter
from dataclasses import replace
from typing import Any

from tests.bench import channels, harness
from tests.bench.workflows_profile import Phases, Statements

DATABASE = "bench_emailprof"


def phases_install(phases: Phases) -> None:
    """Charge the steps of an email's processing to phases (exclusive: an inner one to itself).
    The names of the code before and after issue 13's batching are both listed; the missing
    ones are skipped."""
    from conversations import services as conversation_services
    from integrations import email_inbound

    wrapped = [
        (email_inbound, "inbound_emails_apply", "drain: the batch, the rest"),
        (email_inbound, "email_parse", "MIME parse and headers"),
        (email_inbound, "bodies", "bodies: text and HTML (nh3)"),
        (email_inbound, "attachment_parts", "attachments listed"),
        (email_inbound, "text_trimmed", "quoted text trimmed"),
        (email_inbound, "_contacts_for", "contacts found, created, locked"),
        (email_inbound, "_contact_for", "contacts found, created, locked"),
        (email_inbound, "_threads_place", "threads: refs, tokens, open cases"),
        (email_inbound, "_thread", "threads: refs, tokens, open cases"),
        (email_inbound, "inbound_conversation", "cases opened or joined"),
        (email_inbound, "inbound_conversations", "cases opened or joined"),
        (email_inbound, "inbound_messages_receive", "messages stored"),
        (email_inbound, "inbound_message_receive", "messages stored"),
        (email_inbound, "thread_refs_record", "thread references stored"),
        (email_inbound, "thread_ref_record", "thread references stored"),
        (conversation_services, "conversation_route", "routing task (language, work item)"),
    ]
    for module, attribute, name in wrapped:
        if hasattr(module, attribute):
            phases.wrap(module, attribute, name)


def store(emails: list[tuple[str, bytes]]) -> None:
    from integrations.email_inbound import email_inbound_store

    for sender, raw in emails:
        email_inbound_store(raw, source="smtp", envelope_from=sender, envelope_to=[f"support@{channels.DOMAIN}"])


def drain_all() -> int:
    from integrations.email_inbound import inbound_emails_drain

    done = 0
    while handled := inbound_emails_drain():
        done += handled
    return done


def measure(name: str, emails: list[tuple[str, bytes]], *, phases: Phases, statements: Statements) -> dict:
    from django.db import connection

    from supportdesk import push

    # Intake: as the SMTP server stores them (its own process in the benchmark).
    began = (time.process_time(), harness.process_cpu_seconds(phases.backend))
    count_before = statements.count
    with connection.execute_wrapper(statements):
        store(emails)
    stored = (time.process_time(), harness.process_cpu_seconds(phases.backend))
    intake_statements = statements.count - count_before
    phases.reset()
    count_before = statements.count
    wall = time.monotonic()
    with connection.execute_wrapper(statements):
        handled = drain_all()
    push.flush()
    ended = (time.process_time(), harness.process_cpu_seconds(phases.backend))
    count = len(emails)
    return {"name": name, "emails": count, "handled": handled,
            "intake_python_ms": (stored[0] - began[0]) * 1000 / count,
            "intake_database_ms": (stored[1] - began[1]) * 1000 / count,
            "intake_statements": intake_statements / count,
            "python_ms": (ended[0] - stored[0]) * 1000 / count,
            "database_ms": (ended[1] - stored[1]) * 1000 / count,
            "statements": (statements.count - count_before) / count,
            "wall_ms": (time.monotonic() - wall) * 1000 / count,
            "phases": {name: replace(spent) for name, spent in phases.spent.items()}}


def report(result: dict) -> None:
    count = result["emails"]
    print(f"  {result['name']}: {count:,} emails ({result['handled']:,} drained)")
    print(f"    intake (email_inbound_store, the SMTP server's part), per email: "
          f"{harness.cpu('intake Python', result['intake_python_ms'], 'email')} in Python, "
          f"{harness.cpu('intake PostgreSQL', result['intake_database_ms'], 'email')} in PostgreSQL, "
          f"{result['intake_statements']:.2f} statements")
    print(f"    processing (the worker's drain and routing), per email: "
          f"{harness.cpu('processing Python', result['python_ms'], 'email')} in Python, "
          f"{harness.cpu('processing PostgreSQL', result['database_ms'], 'email')} in PostgreSQL, "
          f"{result['statements']:.2f} statements ({result['wall_ms']:.2f} ms wall)")
    phases = sorted(result["phases"].items(), key=lambda item: -(item[1].python + item[1].database))
    rows = [["     phase (exclusive)", "calls", "Python ms/email", "PostgreSQL ms/email", "statements/email"]]
    for name, spent in phases:
        rows.append([f"     {name}", f"{spent.calls:,}", f"{spent.python * 1000 / count:.3f}",
                     f"{spent.database * 1000 / count:.3f}", f"{spent.statements / count:.2f}"])
    if len(rows) > 1:
        harness.table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=1_000, help="emails measured")
    parser.add_argument("--warm", type=int, default=200, help="emails processed before the measurement")
    parser.add_argument("--profiled", type=int, default=500, help="emails under cProfile")
    parser.add_argument("--statements", type=int, default=0, help="emails whose statements are listed (0: none)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="tottime", choices=("tottime", "cumulative"))
    parser.add_argument("--focus", default="email_|inbound|threads|services|outbox|events|mirror|locks",
                        help="a regular expression of functions also listed by cumulative time ('' for none)")
    parser.add_argument("--profile-out", default="", help="also write the cProfile stats to this file")
    parser.add_argument("--database-url", default="",
                        help=f"the database to use (emptied!); default <DATABASE_URL's name>_{DATABASE}")
    args = parser.parse_args()
    harness.yardsticks()
    harness.profile_django_setup(database=DATABASE, database_url=args.database_url, queue="bench-emailprof",
                                 EMAIL_INBOUND_DOMAIN=channels.DOMAIN)
    from django.db import connection
    from django.db.models import Count

    from integrations import email_inbound
    from supportdesk import outbox

    with connection.cursor() as cursor:
        for table in ("integrations_inboundemail", "integrations_emailthreadref", "conversations_message"):
            cursor.execute(f"TRUNCATE {table} CASCADE")  # noqa: S608 (constant names)
    # Stored first, processed after: no drain asked for by each store (Celery is eager here).
    consumer = outbox._consumers[email_inbound.CONSUMER]
    outbox._consumers[email_inbound.CONSUMER] = replace(consumer, kick=None)
    connection.ensure_connection()
    phases = Phases(backend=connection.connection.info.backend_pid)
    phases_install(phases)
    statements = Statements(phases)
    # One build for every phase, as the benchmark's one run: the same 400 senders throughout
    # (the first emails of a run mostly open cases for new contacts, the later ones answer).
    built = iter(channels.build_emails(args.warm + args.emails + args.statements + args.profiled))

    def emails(count: int) -> list[tuple[str, bytes]]:
        return [next(built) for _ in range(count)]

    harness.step(f"{args.warm:,} emails to warm, then {args.emails:,} measured")
    measure("warm", emails(args.warm), phases=phases, statements=statements)
    result = measure("measured", emails(args.emails), phases=phases, statements=statements)
    kept: Counter[tuple[str, str]] | None = None
    if args.statements:
        harness.step(f"statements of {args.statements:,} emails")
        batch = emails(args.statements)
        store(batch)
        statements.kept = Counter()
        with connection.execute_wrapper(statements):
            drain_all()
        kept, statements.kept = statements.kept, None
    harness.step(f"{args.profiled:,} emails under cProfile")
    profiled = emails(args.profiled)
    store(profiled)
    profile = cProfile.Profile(time.thread_time)
    profile.enable()
    drain_all()
    profile.disable()
    if args.profile_out:
        profile.dump_stats(args.profile_out)
    statuses: dict[Any, Any] = dict(email_inbound.InboundEmail.objects.values_list("status").annotate(
        n=Count("pk")).order_by())

    print()
    print("Inbound email: the worker's CPU per email (the channels benchmark's emails), one process")
    harness.yardstick_header()
    report(result)
    print(f"  emails by status: {statuses}")
    if kept:
        print(f"  statements over {args.statements:,} emails, by phase, the most frequent first:")
        for (phase, statement), times in sorted(kept.items(), key=lambda item: (item[0][0], -item[1])):
            print(f"    {times:6,}  {phase[:28]:28}  {statement}")
    print(f"  CPU in this thread under cProfile (which inflates it), {args.profiled:,} emails, top {args.top} "
          f"by {args.sort}:")
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out).strip_dirs().sort_stats(args.sort)
    stats.print_stats(args.top)
    if args.focus:
        stats.sort_stats("cumulative").print_stats(args.focus, args.top)
    print("\n".join("    " + line for line in out.getvalue().splitlines() if line.strip()))


if __name__ == "__main__":
    main()
