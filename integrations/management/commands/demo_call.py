"""`manage.py demo_call`: a customer rings the desk through the voice simulator (`manage.py
fake_voice`, which `make run` starts): the incoming call, the language menu's key, optionally the
callback key, and (when asked) the hang-up, each posted to the desk's webhooks signed as Twilio
signs them, so a new user sees a call ring in the workspace and go end to end."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations.phones import e164


class Command(BaseCommand):
    help = "Place a call into the desk through the voice simulator (menu key, callback request, hang-up)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="The desk (make run's address).")
        parser.add_argument("--simulator", default=f"http://{settings.FAKE_VOICE_HOST}:{settings.FAKE_VOICE_PORT}",
                            help="The voice simulator (manage.py fake_voice).")
        parser.add_argument("--language", default="2",
                            help="The menu key pressed (1 is %s; 0: none, the default language)."
                                 % (settings.VOICE_LANGUAGES[0] if settings.VOICE_LANGUAGES else "-"))
        parser.add_argument("--from", dest="caller", default="+34600111222", help="The caller's number.")
        parser.add_argument("--hangup-after", type=float, help="The caller hangs up after this many seconds.")
        parser.add_argument("--callback", action="store_true", help="The caller presses 9: call me back.")

    def handle(self, *args: Any, **options: Any) -> None:
        caller = e164(options["caller"])
        if caller is None:
            raise CommandError("--from: a phone number with its country code, e.g. +34600111222.")
        digit = options["language"]
        if not (len(digit) == 1 and digit.isdigit()):
            raise CommandError("--language: one key, 0-9.")
        desk = options["url"].rstrip("/") + "/integrations/voice/"
        simulator = options["simulator"].rstrip("/")
        try:
            answer = requests.post(f"{simulator}/simulate/call", timeout=60, json={
                "from": caller, "digit": None if digit == "0" else digit, "callback": options["callback"],
                "hangup_after": options["hangup_after"], "desk": desk})
        except requests.RequestException as error:
            raise CommandError(f"The voice simulator at {simulator} did not answer ({error}). "
                               "Is `make run` (or `manage.py fake_voice`) running?") from error
        placed = answer.json() if answer.headers.get("Content-Type") == "application/json" else {}
        if answer.status_code != 200:
            statuses = [step["status"] for step in placed.get("steps", [])]
            raise CommandError(f"The call did not go through: {placed.get('error') or answer.text[:200]} "
                               f"(the desk at {desk} answered {statuses}). Is `make run` running there?")
        what = "asked to be called back and hung up" if options["callback"] else "waits for an agent"
        if options["hangup_after"] is not None and not options["callback"]:
            what += f", and hangs up after {options['hangup_after']:g} s"
        self.stdout.write(f"Call {placed['sid']} from {caller} rang the desk and {what}. "
                          f"Log in as an agent who speaks the chosen language (e.g. agent.es / agent for key 2) "
                          f"at {options['url']}/desk/ "
                          "to take it: the simulator connects, holds and hangs up as the desk asks.")
