"""Where the worker's time goes per WhatsApp message: the outbox drain applying stored posts.

In its own database (`<database>_bench_waprof`, migrated; the posts and messages of earlier runs
emptied), --posts signed posts as the channels benchmark builds them (each from a new number, or
with --repeat from senders who wrote before) are stored as the webhook stores them (not measured:
that is the web's work), then applied as the worker applies them, `whatsapp_drain` in batches of
--batch. Per message: statements (each a round trip; BEGIN and COMMIT not counted), CPU in this
thread and in its PostgreSQL backend, the statements by their shape (most frequent first), then
--profiled posts more under cProfile (this thread's CPU): the top functions.

    python -m tests.bench.whatsapp_profile [--posts 1000] [--batch 50] [--repeat] [--profiled 300]
        [--top 25] [--statements 25]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from tests.bench import harness
from tests.bench.channels import APP_SECRET, build_posts, signed

DATABASE = "bench_waprof"


class Statements:
    """An execute wrapper counting statements by their shape (literals and numbers left out)."""

    def __init__(self) -> None:
        self.count = 0
        self.shapes: Counter[str] = Counter()

    def __call__(self, execute: Callable, statement: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        shape = re.sub(r"\d+", "N", " ".join(statement.split()))
        self.shapes[shape[:150]] += 1
        return execute(statement, params, many, context)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--repeat", action="store_true", help="senders who wrote before (their contact and "
                                                             "open conversation exist)")
    parser.add_argument("--profiled", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--statements", type=int, default=25, help="statement shapes listed")
    args = parser.parse_args()
    harness.yardsticks()
    env = harness.bench_env(database=DATABASE, DATABASE_POOL="false", WHATSAPP_APP_SECRET=APP_SECRET,
                            WHATSAPP_VERIFY_TOKEN="bench-only-verify-token")
    harness.prepare_database(env)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")
    import django

    django.setup()
    from django.db import connection

    from integrations.whatsapp import inbound
    from supportdesk import outbox

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE integrations_whatsappdelivery, conversations_message CASCADE")
        cursor.execute("DELETE FROM supportdesk_outboxentry WHERE consumer = %s", [inbound.CONSUMER])
    # Kicks would ask a Celery worker (none runs here) for a drain: this process drains.
    outbox.consumer_register(name=inbound.CONSUMER, stream=inbound.STREAM, handle=inbound.deliveries_apply)
    connection.ensure_connection()
    backend = connection.connection.info.backend_pid

    def store(posts: list[tuple[bytes, str]]) -> None:
        for body, signature in posts:
            inbound.webhook_receive(body=body, signature=signature)

    def drain() -> None:
        while inbound.whatsapp_drain(batches=1000, batch_size=args.batch):
            pass

    measured, profiled = build_posts(args.posts, new_senders=True), build_posts(args.profiled, new_senders=True)
    store(build_posts(100, new_senders=True))
    drain()  # warm: caches, plans
    if args.repeat:  # the same senders wrote before: their contacts and open conversations exist
        store(_resent(measured + profiled))
        drain()
    harness.step(f"storing {args.posts:,} posts (not measured)")
    store(measured)
    counted = Statements()
    began = (time.thread_time(), harness.process_cpu_seconds(backend), time.monotonic())
    with connection.execute_wrapper(counted):
        drain()
    ended = (time.thread_time(), harness.process_cpu_seconds(backend), time.monotonic())
    store(profiled)
    profile = cProfile.Profile(time.thread_time)
    profile.enable()
    drain()
    profile.disable()

    count = args.posts
    thread_ms, database_ms, wall_ms = ((ended[i] - began[i]) * 1000 / count for i in range(3))
    print()
    print(f"WhatsApp processing profile: {count:,} posts of one message each, from "
          f"{'senders who wrote before' if args.repeat else 'new numbers'}, drained in batches of {args.batch}")
    harness.yardstick_header()
    print(f"  per message: {counted.count / count:.1f} statements; "
          f"{harness.cpu('whatsapp message this thread', thread_ms, 'message')} in this thread, "
          f"{harness.cpu('whatsapp message PostgreSQL', database_ms, 'message')} in PostgreSQL, "
          f"{wall_ms:.2f} ms elapsed")
    print(f"  statements by shape, per message (top {args.statements}):")
    for shape, times in counted.shapes.most_common(args.statements):
        print(f"    {times / count:5.2f}  {shape}")
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out).strip_dirs().sort_stats("cumulative")
    stats.print_stats(args.top)
    print(f"  {args.profiled} posts more under cProfile (this thread's CPU, inflated by it), top {args.top} "
          "by cumulative time:")
    print("\n".join("    " + line for line in out.getvalue().splitlines() if line.strip()))


def _resent(posts: list[tuple[bytes, str]]) -> list[tuple[bytes, str]]:
    """An earlier message of each post's sender (another id), signed: stored first, it makes the
    sender known, with an open conversation, before the measured posts come."""
    earlier = []
    for body, _signature in posts:
        payload = json.loads(body)
        message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
        message["id"] = message["id"].replace("wamid.bench.", "wamid.earlier.")
        earlier.append(signed(payload))
    return earlier


if __name__ == "__main__":
    main()
