"""`manage.py fake_whatsapp`: the fake WhatsApp Cloud API (integrations.whatsapp.fake_server) where
WHATSAPP_API_URL points by default; it reports its sends' statuses to the desk's webhook."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations.whatsapp.fake_server import FakeWhatsAppServer


class Command(BaseCommand):
    help = ("Serve a fake WhatsApp Cloud API on FAKE_WHATSAPP_HOST:FAKE_WHATSAPP_PORT (default 127.0.0.1:9100): "
            "it takes the desk's replies and posts their status reports, signed, to the desk's webhook.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default=settings.FAKE_WHATSAPP_HOST)
        parser.add_argument("--port", type=int, default=settings.FAKE_WHATSAPP_PORT)
        parser.add_argument("--webhook-url", default=settings.FAKE_WHATSAPP_WEBHOOK_URL,
                            help="The desk's WhatsApp webhook, where status reports go.")
        parser.add_argument("--verbose", action="store_true", help="Log every request.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            server = FakeWhatsAppServer(host=options["host"], port=options["port"],
                                        token=settings.WHATSAPP_ACCESS_TOKEN,
                                        app_secret=settings.WHATSAPP_APP_SECRET,
                                        webhook_url=options["webhook_url"], verbose=options["verbose"])
        except OSError as error:
            raise CommandError(f"The fake WhatsApp provider cannot listen on {options['host']}:{options['port']}: "
                               f"{error}") from error
        self.stdout.write(f"Fake WhatsApp Cloud API listening on {server.url} "
                          f"(reports to {options['webhook_url']})")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
