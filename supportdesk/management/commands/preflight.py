from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from supportdesk.preflight import PreflightError, run_all


class Command(BaseCommand):
    help = "Check that PostgreSQL and Redis answer; create the database if it is missing."
    requires_system_checks: list = []

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--create-database", action="store_true", help="Create the database when missing."
        )

    def handle(self, *args, **options) -> None:
        try:
            lines = run_all(
                database=settings.DATABASES["default"],
                redis_url=settings.REDIS_URL,
                create_database=options["create_database"],
            )
        except PreflightError as exc:
            raise CommandError(str(exc)) from None
        for line in lines:
            self.stdout.write(self.style.SUCCESS(f"ok  {line}"))
