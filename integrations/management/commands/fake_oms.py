"""`manage.py fake_oms`: the fake OMS (integrations.oms.fake_server) where OMS_API_URL points."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations.oms.fake_server import FakeOmsServer


class Command(BaseCommand):
    help = ("Serve a fake OMS (rebates and coupons, honouring Idempotency-Key; GET /calls lists what "
            "it received) on FAKE_OMS_HOST:FAKE_OMS_PORT (default 127.0.0.1:9000), for the demo.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default=settings.FAKE_OMS_HOST)
        parser.add_argument("--port", type=int, default=settings.FAKE_OMS_PORT)
        parser.add_argument("--verbose", action="store_true", help="Log every request.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            server = FakeOmsServer(host=options["host"], port=options["port"],
                                   token=settings.OMS_API_TOKEN, verbose=options["verbose"])
        except OSError as error:
            raise CommandError(f"The fake OMS cannot listen on {options['host']}:{options['port']}: "
                               f"{error}") from error
        self.stdout.write(f"Fake OMS listening on {server.url} (what it received: {server.url}/calls)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
