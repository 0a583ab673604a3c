"""`manage.py seed_demo`: load the demo staff and contacts (idempotent, resumable)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from supportdesk import demo
from supportdesk.demo.workflows import demo_unhappy_customer_ensure, demo_workflows_ensure
from supportdesk.seeding import StepProgress


class Command(BaseCommand):
    help = (
        "Create demo staff (a supervisor and agents in many languages) and contacts of all "
        "three kinds with orders, conversations and timeline. Running it again creates only "
        "what is missing."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--contacts", type=int, default=demo.DEFAULT_CONTACTS,
            help=f"How many contacts to have (default {demo.DEFAULT_CONTACTS}).",
        )
        parser.add_argument(
            "--seed", type=int, default=demo.DEFAULT_SEED,
            help="Seed of the random generator; the same seed gives the same data.",
        )
        parser.add_argument(
            "--chunk-size", type=int, default=demo.DEFAULT_CHUNK_SIZE,
            help=f"Contacts written per transaction (default {demo.DEFAULT_CHUNK_SIZE}).",
        )
        parser.add_argument("--quiet", action="store_true", help="Print only the summary.")
        parser.add_argument(
            "--if-allowed", action="store_true",
            help="Where DEMO_DATA is off, say so and succeed instead of failing (docker-compose).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEMO_DATA:
            refusal = ("The demo creates logins whose passwords are published (a superuser among them), "
                       "so it loads only with DEMO_DATA=true, the default with DEBUG on.")
            if options["if_allowed"]:
                self.stdout.write(f"Demo data not loaded. {refusal}")
                return
            raise CommandError(refusal)
        contacts, chunk_size = options["contacts"], options["chunk_size"]
        if not 0 <= contacts <= demo.MAX_CONTACTS:
            raise CommandError(
                f"--contacts must be between 0 and {demo.MAX_CONTACTS:,}; got {contacts}."
            )
        if chunk_size < 1:
            raise CommandError(f"--chunk-size must be at least 1; got {chunk_size}.")
        quiet = options["quiet"] or options["verbosity"] == 0

        if not quiet:
            self.stdout.write(f"Seeding {contacts:,} demo contacts (seed {options['seed']})...")
        result = demo.demo_seed(
            contacts=contacts, seed=options["seed"], chunk_size=chunk_size,
            on_progress=None if quiet else self._progress,
            on_step_progress=None if quiet else self._step_progress,
        )

        # The recovery workflow (enabled) and the unhappy high-value customer it is for.
        demo_workflows_ensure()
        demo_unhappy_customer_ensure()

        if options["verbosity"] == 0:
            return
        seconds = result.elapsed_seconds
        if result.rows:
            self.stdout.write(self.style.SUCCESS(
                f"Created {result.rows:,} rows in {seconds:.1f}s "
                f"({result.rows / max(result.contacts_seconds, 1e-9):,.0f} rows/s once the "
                "staff were set up):"
            ))
            for table, count in result.created.items():
                self.stdout.write(f"  {count:>10,}  {table}")
        else:
            self.stdout.write(self.style.SUCCESS(
                f"Nothing to create: the {contacts:,} demo contacts were already there "
                f"({seconds:.1f}s)."
            ))
        for outcome in result.after_seeding:
            self.stdout.write(outcome)
        agents = ", ".join(agent.username for agent in demo.AGENTS)
        self.stdout.write(
            f"Logins: {demo.SUPERVISOR_USERNAME} / {demo.SUPERVISOR_PASSWORD} (superuser); "
            f"agents ({agents}) / {demo.AGENT_PASSWORD}"
        )
        self.stdout.write("The recovery workflow is enabled (/admin/workflows/); to watch it act on an OMS "
                          "delay: manage.py demo_order_delay")

    def _progress(self, progress: demo.ChunkProgress) -> None:
        elapsed = progress.elapsed_seconds
        rate = progress.rows / elapsed if elapsed > 0 else 0.0
        remaining = elapsed / progress.done * (progress.total - progress.done)
        self.stdout.write(
            f"  {progress.done:>{len(f'{progress.total:,}')},}/{progress.total:,} contacts "
            f"({progress.done / progress.total:6.1%})  {progress.rows:>10,} rows  "
            f"{rate:>8,.0f} rows/s  ETA {_duration(remaining)}"
        )


    def _step_progress(self, progress: StepProgress) -> None:
        self.stdout.write(f"  {progress.what}: {progress.done:,}/{progress.total:,} {progress.unit} "
                          f"({progress.done / progress.total:6.1%})")


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"
