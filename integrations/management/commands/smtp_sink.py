"""`manage.py smtp_sink`: the local SMTP server that keeps every email the desk sends."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations.mail_sink import sink_controller
from integrations.smtp_server import smtp_serve


class Command(BaseCommand):
    help = ("Serve SMTP on SMTP_SINK_HOST:SMTP_SINK_PORT (default 127.0.0.1:8025) and keep every "
            "message received, for the supervisors' page /desk/mailbox/.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default=settings.SMTP_SINK_HOST)
        parser.add_argument("--port", type=int, default=settings.SMTP_SINK_PORT)

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        try:
            smtp_serve(sink_controller(host=host, port=port),
                       started=f"SMTP sink listening on {host}:{port} (received mail: /desk/mailbox/)")
        except (OSError, RuntimeError) as error:
            raise CommandError(f"The SMTP sink cannot listen on {host}:{port}: {error}") from error
