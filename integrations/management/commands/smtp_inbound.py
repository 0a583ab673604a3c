"""`manage.py smtp_inbound`: the desk's inbound SMTP server (mail to EMAIL_INBOUND_DOMAIN)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations.smtp_inbound import inbound_controller
from integrations.smtp_server import smtp_serve


class Command(BaseCommand):
    help = ("Serve SMTP on EMAIL_INBOUND_SMTP_HOST:EMAIL_INBOUND_SMTP_PORT (default 127.0.0.1:2525) and "
            "turn mail to any address at EMAIL_INBOUND_DOMAIN into email conversations.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default=settings.EMAIL_INBOUND_SMTP_HOST)
        parser.add_argument("--port", type=int, default=settings.EMAIL_INBOUND_SMTP_PORT)

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        try:
            smtp_serve(inbound_controller(host=host, port=port),
                       started=f"Inbound SMTP listening on {host}:{port} for @{settings.EMAIL_INBOUND_DOMAIN}")
        except (OSError, RuntimeError) as error:
            raise CommandError(f"The inbound SMTP server cannot listen on {host}:{port}: {error}") from error
