"""Every log line says which request or task wrote it; LOG_FORMAT=json writes JSON lines."""

import io
import json
import logging
import logging.config
import uuid

import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.test import RequestFactory

from supportdesk.celery import app
from supportdesk.logs import log_id, logging_config
from supportdesk.middleware import RequestIdMiddleware
from tests.deployments import desk_settings

log = logging.getLogger("tests.logs")


@pytest.fixture
def lines():
    """What the desk's console handler would write, in the format asked for, for this test's logger."""
    stream = io.StringIO()

    def use(log_format: str) -> io.StringIO:
        config = logging_config(log_format=log_format, level="INFO")
        config["handlers"]["console"]["stream"] = "ext://tests.supportdesk.test_logs._stream"
        config["root"] = {"level": "WARNING"}
        config["loggers"] = {"tests.logs": {"handlers": ["console"], "level": "INFO", "propagate": False}}
        globals()["_stream"] = stream
        logging.config.dictConfig(config)
        return stream

    yield use
    logging.getLogger("tests.logs").handlers.clear()


def _logging_view(request):
    log.info("handling %s", request.path)
    return HttpResponse("ok")


def test_a_requests_json_lines_carry_the_id_it_answers(lines):
    stream = lines("json")
    response = RequestIdMiddleware(_logging_view)(RequestFactory().get("/somewhere"))

    [line] = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["message"] == "handling /somewhere"
    assert line["request_id"] == response["X-Request-ID"] != "-"
    assert (line["level"], line["logger"]) == ("INFO", "tests.logs")
    assert "time" in line
    assert log_id() == "-"  # nothing left behind for the thread's next request


def test_a_callers_sane_request_id_is_kept_and_a_forged_one_replaced(lines):
    stream = lines("text")
    middleware = RequestIdMiddleware(_logging_view)

    kept = middleware(RequestFactory().get("/a", HTTP_X_REQUEST_ID="lb-4f2a.77"))
    forged = middleware(RequestFactory().get("/b", HTTP_X_REQUEST_ID="x\nERROR forged line"))
    too_long = middleware(RequestFactory().get("/c", HTTP_X_REQUEST_ID="a" * 65))

    assert kept["X-Request-ID"] == "lb-4f2a.77"
    assert forged["X-Request-ID"] != "x\nERROR forged line" and len(forged["X-Request-ID"]) == 32
    assert too_long["X-Request-ID"] != "a" * 65
    text = stream.getvalue().splitlines()
    assert "[lb-4f2a.77]: handling /a" in text[0]
    assert f"[{forged['X-Request-ID']}]: handling /b" in text[1]
    assert "forged line" not in stream.getvalue()


@pytest.mark.django_db
def test_every_page_answers_its_request_id(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="probe-1")
    assert response["X-Request-ID"] == "probe-1"
    assert len(client.get("/healthz")["X-Request-ID"]) == 32


def test_the_async_path_sets_and_answers_the_id(lines):
    stream = lines("json")

    async def view(request):
        log.info("async %s", request.path)
        return HttpResponse("ok")

    middleware = RequestIdMiddleware(view)
    response = async_to_sync(middleware)(RequestFactory().get("/async", HTTP_X_REQUEST_ID="async-1"))

    assert response["X-Request-ID"] == "async-1"
    assert json.loads(stream.getvalue())["request_id"] == "async-1"


@app.task(name=f"tests.logs.logging_task_{uuid.uuid4().hex[:6]}")
def _logging_task():
    log.info("in the task")
    return log_id()


def test_a_tasks_lines_carry_its_task_id(lines):
    stream = lines("json")

    result = _logging_task.apply(task_id="task-42")

    assert result.get() == "task-42"
    assert json.loads(stream.getvalue())["request_id"] == "task-42"
    assert log_id() == "-"


def test_an_unknown_log_format_stops_the_desk_with_a_sentence():
    with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT must be text or json"):
        desk_settings({"DEBUG": "true", "LOG_FORMAT": "xml"})
    assert desk_settings({"DEBUG": "true", "LOG_FORMAT": "JSON"})["LOG_FORMAT"] == "json"
