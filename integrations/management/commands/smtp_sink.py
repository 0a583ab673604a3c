"""`manage.py smtp_sink`: the local SMTP server that keeps every email the desk sends."""

from __future__ import annotations

import signal
import threading
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations.mail_sink import sink_controller


class Command(BaseCommand):
    help = ("Serve SMTP on SMTP_SINK_HOST:SMTP_SINK_PORT (default 127.0.0.1:8025) and keep every "
            "message received, for the supervisors' page /desk/mailbox/.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default=settings.SMTP_SINK_HOST)
        parser.add_argument("--port", type=int, default=settings.SMTP_SINK_PORT)

    def handle(self, *args: Any, **options: Any) -> None:
        controller = sink_controller(host=options["host"], port=options["port"])
        try:
            controller.start()
        except (OSError, RuntimeError) as error:
            raise CommandError(f"The SMTP sink cannot listen on {options['host']}:{options['port']}: "
                               f"{error}") from error
        self.stdout.write(f"SMTP sink listening on {options['host']}:{options['port']} "
                          "(received mail: /desk/mailbox/)")
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
        controller.stop()
