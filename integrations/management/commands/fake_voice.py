"""`manage.py fake_voice`: the voice provider simulator (integrations.voice.fake_server) where
TWILIO_API_URL points by default; it takes the desk's call actions, reports back to the desk's
voice webhooks, and places calls into the desk (`manage.py demo_call`)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations.voice.fake_server import FakeVoiceServer


class Command(BaseCommand):
    help = ("Serve a voice provider simulator (Twilio's REST API and webhooks) on "
            "FAKE_VOICE_HOST:FAKE_VOICE_PORT (default 127.0.0.1:9200): it connects, holds and hangs up the "
            "desk's calls, reports them back signed, and places calls into the desk.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default=settings.FAKE_VOICE_HOST)
        parser.add_argument("--port", type=int, default=settings.FAKE_VOICE_PORT)
        parser.add_argument("--desk-url", default=settings.FAKE_VOICE_WEBHOOK_URL,
                            help="The desk's voice webhooks (…/integrations/voice/), where its calls ring.")
        parser.add_argument("--verbose", action="store_true", help="Log every request.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.TWILIO_AUTH_TOKEN:
            raise CommandError("TWILIO_AUTH_TOKEN is unset: the simulator signs its webhooks with it "
                               "(DEBUG=true uses the development value).")
        try:
            server = FakeVoiceServer(host=options["host"], port=options["port"],
                                     account_sid=settings.TWILIO_ACCOUNT_SID,
                                     auth_token=settings.TWILIO_AUTH_TOKEN,
                                     number=settings.TWILIO_NUMBER, desk_url=options["desk_url"],
                                     verbose=options["verbose"])
        except OSError as error:
            raise CommandError(f"The voice simulator cannot listen on {options['host']}:{options['port']}: "
                               f"{error}") from error
        self.stdout.write(f"Voice provider simulator listening on {server.url} "
                          f"(calls ring at {options['desk_url']})")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
