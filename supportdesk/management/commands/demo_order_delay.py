"""`manage.py demo_order_delay`: show the demo's recovery workflow acting, end to end."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

import requests
from django.core.management.base import BaseCommand, CommandError

from supportdesk.demo.places import LOCALES
from supportdesk.demo.workflows import demo_customer_for, demo_order_delay_send, demo_unhappy_customer_ensure


class Command(BaseCommand):
    help = ("Send a running desk (make run) two signed OMS webhooks: a new order of the demo's unhappy "
            "high-value customer, then its delay. The recovery workflow's timer (15 minutes past the "
            "promised time) fires --late-in seconds later: a coupon from the fake OMS and the apology "
            "email, both on /desk/mailbox/ and on the customer's page.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="The desk (default %(default)s).")
        parser.add_argument("--late-in", type=int, default=60,
                            help="Seconds until the order is 15 minutes late (default %(default)s).")
        parser.add_argument("--language", default="es", choices=sorted(LOCALES),
                            help="The customer's language: each has their own unhappy customer, so each "
                                 "translation of the apology can be seen (default %(default)s: Lucía).")

    def handle(self, *args: Any, **options: Any) -> None:
        if not 0 <= options["late_in"] <= 3600:
            raise CommandError("--late-in is between 0 and 3600 seconds.")
        customer = demo_customer_for(options["language"])
        contact = demo_unhappy_customer_ensure(customer=customer)
        try:
            order_id = demo_order_delay_send(desk_url=options["url"], late_in_seconds=options["late_in"],
                                             customer=customer)
        except (requests.RequestException, ValueError) as error:
            raise CommandError(f"Could not reach the desk at {options['url']} (is `make run` running?): "
                               f"{error}") from error
        self.stdout.write(self.style.SUCCESS(
            f"Order {order_id} of {customer.name} ({contact.lifetime_order_value} EUR lifetime, last "
            f"rating {contact.last_rating}/5) is delayed. In about {options['late_in']} s the recovery workflow "
            f"acts: see {options['url']}/desk/mailbox/ and {options['url']}/desk/contacts/{contact.pk}/ "
            "(one apology per order, at most one per customer in 7 days: try another --language)."))
