"""Every log line says which request or task wrote it.

A request's id is the caller's `X-Request-ID` when it is a sane one (a proxy or load balancer
that sets it ties its own logs to ours), else a new one; it is answered back in the same
header. A Celery task's lines carry its task id. Both live in a context variable, which the
ASGI handler's threads and `sync_to_async` copy, so a line logged anywhere below the view or
the task says it. `LOG_FORMAT=json` writes each line as one JSON object (python-json-logger),
for a log shipper; `text` (the default) as a readable line with the same fields.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar, Token

NONE = "-"
_current: ContextVar[str] = ContextVar("supportdesk_log_id", default=NONE)
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,64}")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"


def log_id() -> str:
    return _current.get()


def log_id_set(value: str) -> Token:
    return _current.set(value)


def log_id_reset(token: Token) -> None:
    _current.reset(token)


def request_id_for(header: str | None) -> str:
    """The caller's request id when it is sane (at most 64 letters, digits and . _ : -), else
    a new one: anything else could forge log lines or fill them."""
    if header and _SANE.fullmatch(header):
        return header
    return uuid.uuid4().hex


class LogIdFilter(logging.Filter):
    """Adds `request_id` (the request's or the task's id, "-" outside both) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get()
        return True


def logging_config(*, log_format: str, level: str) -> dict:
    """The LOGGING setting for `LOG_FORMAT` ("text" or "json")."""
    if log_format == "json":
        formatter = {"()": "pythonjsonlogger.json.JsonFormatter", "format": JSON_FIELDS,
                     "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"}}
    else:
        formatter = {"format": TEXT_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"log_id": {"()": "supportdesk.logs.LogIdFilter"}},
        "formatters": {"line": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "line", "filters": ["log_id"]}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # aiosmtpd (the local SMTP sink) logs every SMTP command at INFO.
            "mail.log": {"level": "WARNING"},
        },
    }
