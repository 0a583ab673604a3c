"""Where the inbound SMTP server's CPU goes per email, as the channels benchmark's A sends them.

The desk's inbound SMTP server (`integrations.smtp_inbound.inbound_controller`) runs in this
process on its own database (`<database>_bench_smtpprof`), and --emails of the benchmark's
emails (50 KB HTML bodies) are sent to it by four client threads; the worker's drain is not
asked for (the emails are only stored). Reported: the CPU per email of the server's event loop
thread (the SMTP conversation, reading the data) and of the thread that stores each email
(`email_inbound_store`; here all of them in the one thread the server keeps for large ones, so
one profile sees them), both under cProfile (which inflates them), with their top functions.

    python -m tests.bench.smtp_profile [--emails 1000] [--top 25]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import threading
import time
import uuid

from tests.bench import channels, harness

DATABASE = "bench_smtpprof"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=1_000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime", choices=("tottime", "cumulative"))
    args = parser.parse_args()
    harness.yardsticks()
    env = harness.bench_env(database=DATABASE, EMAIL_INBOUND_DOMAIN=channels.DOMAIN,
                            CELERY_TASK_DEFAULT_QUEUE=f"bench-smtpprof-{uuid.uuid4().hex[:6]}")
    harness.prepare_database(env)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")
    import warnings

    import django

    warnings.filterwarnings("ignore", "No directory at")
    django.setup()
    from dataclasses import replace

    from integrations import email_inbound, smtp_inbound
    from supportdesk import outbox

    consumer = outbox._consumers[email_inbound.CONSUMER]
    outbox._consumers[email_inbound.CONSUMER] = replace(consumer, kick=None)  # stored only
    loop_profile, store_profile = cProfile.Profile(time.thread_time), cProfile.Profile(time.thread_time)
    store = smtp_inbound._store_from_thread
    smtp_inbound.SMALL_EMAIL_BYTES = -1  # every store on the one thread: one profile, one thread
    smtp_inbound._store_from_thread = lambda *a, **k: store_profile.runcall(store, *a, **k)
    port = harness.free_port()
    controller = smtp_inbound.inbound_controller(host="127.0.0.1", port=port)
    controller.start()
    try:
        channels.smtp_send(port, channels.build_emails(100, seed=3), clients=4)  # warm
        store_profile.disable()
        store_profile = cProfile.Profile(time.thread_time)
        emails = channels.build_emails(args.emails, seed=4)
        enabled = threading.Event()
        controller.loop.call_soon_threadsafe(lambda: (loop_profile.enable(), enabled.set()))
        enabled.wait()
        seconds = channels.smtp_send(port, emails, clients=4)
        done = threading.Event()
        controller.loop.call_soon_threadsafe(lambda: (loop_profile.disable(), done.set()))
        done.wait()
    finally:
        controller.stop()
    print()
    print(f"Inbound SMTP server: {args.emails:,} emails (50 KB HTML) from 4 clients in this process, "
          f"{args.emails / seconds:,.0f} emails/s under cProfile")
    harness.yardstick_header()
    for name, profile in (("event loop thread (SMTP, data)", loop_profile), ("store thread", store_profile)):
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        print(f"  {name}: {stats.total_tt * 1000 / args.emails:.2f} ms CPU per email under cProfile; "
              f"top {args.top} by {args.sort}:")
        stats.strip_dirs().sort_stats(args.sort).print_stats(args.top)
        print("\n".join("    " + line for line in out.getvalue().splitlines() if line.strip()))


if __name__ == "__main__":
    main()
