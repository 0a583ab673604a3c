"""`manage.py demo_email`: send a customer's email to the desk's inbound SMTP server, as a mail
client would, so a new user sees an email conversation arrive in the workspace."""

from __future__ import annotations

import smtplib
from argparse import ArgumentParser
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("Send an email from a customer to support@EMAIL_INBOUND_DOMAIN through the desk's inbound SMTP "
            "server (make run starts it on 127.0.0.1:2525); it becomes an email conversation.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--sender", default="Lucía Gómez <lucia.gomez@example.com>")
        parser.add_argument("--to", default=f"support@{settings.EMAIL_INBOUND_DOMAIN}")
        parser.add_argument("--subject", default="Mi pedido no ha llegado")
        parser.add_argument("--body", default="Hola, hice un pedido hace dos horas y todavía no ha llegado. "
                                              "¿Podéis decirme dónde está?\n\nGracias")
        parser.add_argument("--in-reply-to", default="", help="A Message-ID this email answers.")
        parser.add_argument("--host", default=settings.EMAIL_INBOUND_SMTP_HOST)
        parser.add_argument("--port", type=int, default=settings.EMAIL_INBOUND_SMTP_PORT)

    def handle(self, *args: Any, **options: Any) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = options["sender"], options["to"], options["subject"]
        message["Message-ID"] = make_msgid(domain="example.com")
        if options["in_reply_to"]:
            message["In-Reply-To"] = message["References"] = options["in_reply_to"]
        message.set_content(options["body"])
        host, port = options["host"], options["port"]
        try:
            with smtplib.SMTP(host, port, timeout=10) as client:
                client.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            raise CommandError(f"The inbound SMTP server at {host}:{port} did not take the email ({error}). "
                               "Is `make run` running? It starts the server (manage.py smtp_inbound).") from error
        self.stdout.write(f"Sent {message['Message-ID']} from {options['sender']} to {options['to']}: it is "
                          "an email conversation in the desk within seconds (/desk/, an agent speaking its "
                          "language is offered it).")
