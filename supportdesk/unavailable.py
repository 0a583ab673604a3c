"""PostgreSQL down, restarting or unreachable: what every entry point answers instead of a 500.

One test (`database_unavailable`) and one answer (503, `Retry-After`, code "unavailable"), used
by the middleware and the 500 handler (pages), the REST API's exception handler and the
websocket consumers, so a client can always tell "try again shortly" from a bug.
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils.translation import gettext_lazy as _

from supportdesk.errors import error_body

CODE = "unavailable"
MESSAGE = _("The desk cannot reach its database just now; try again in a few seconds.")


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database could not be reached or dropped the connection.

    Django wraps the driver's errors (a pool timeout included: psycopg_pool.PoolTimeout is
    a psycopg OperationalError); the hot path on the event loop raises psycopg's own.
    OperationalError also covers deadlocks and cancelled statements: transient too, so
    "try again" is the honest answer for them as well."""
    return isinstance(exc, (OperationalError, InterfaceError, psycopg.OperationalError,
                            psycopg.InterfaceError))


def retry_after_seconds() -> int:
    return settings.DATABASE_UNAVAILABLE_RETRY_AFTER_SECONDS


def unavailable_body() -> dict[str, Any]:
    return error_body(CODE, str(MESSAGE))
