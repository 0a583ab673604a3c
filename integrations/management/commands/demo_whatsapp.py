"""`manage.py demo_whatsapp`: a customer's WhatsApp message, posted to the desk's webhook as the
WhatsApp Cloud API posts it (signed with WHATSAPP_APP_SECRET), so a new user sees a WhatsApp
conversation arrive in the workspace."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations.whatsapp.fake_server import inbound_payload, signed_post


class Command(BaseCommand):
    help = "Post a customer's WhatsApp message (text, or a location) to the desk's webhook, signed."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="The desk (make run's address).")
        parser.add_argument("--sender", default="34600111222", help="The customer's number, digits only.")
        parser.add_argument("--name", default="Lucía Gómez")
        parser.add_argument("--text", default="Hola, mi pedido lleva 40 minutos de retraso. "
                                              "¿Dónde está el repartidor?")
        parser.add_argument("--latitude", type=float, help="Send a location instead of text.")
        parser.add_argument("--longitude", type=float)

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["sender"].isdigit():
            raise CommandError("--sender: the number's digits only, with the country code (e.g. 34600111222).")
        location = None
        if options["latitude"] is not None or options["longitude"] is not None:
            if options["latitude"] is None or options["longitude"] is None:
                raise CommandError("A location needs both --latitude and --longitude.")
            location = {"latitude": options["latitude"], "longitude": options["longitude"], "name": "Casa"}
        url = options["url"].rstrip("/") + "/integrations/whatsapp/webhook/"
        status = signed_post(url, inbound_payload(sender=options["sender"], name=options["name"],
                                                  text=options["text"], location=location),
                             secret=settings.WHATSAPP_APP_SECRET)
        if status != 200:
            raise CommandError(f"The desk at {url} answered {status or 'nothing'}. Is `make run` running there?")
        self.stdout.write(f"Posted a WhatsApp message from +{options['sender']} to {url}: it is a messaging "
                          "conversation in the desk within seconds, and the agent's reply goes back through "
                          "the fake provider (its statuses come back: sent, delivered, read).")
