"""Property tests: arbitrary JSON and bytes thrown at the widget's session endpoint and at both
sockets (the visitor's and the agent's). The endpoint never answers a 5xx and always answers in
the error shape; a socket never closes and never fails on its side: whatever a frame holds, it is
answered (an error frame when it is not a frame the socket takes), and the socket still answers
the next one."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversations import widget
from conversations.consumers import AgentConsumer
from conversations.visitor_consumer import VisitorConsumer
from supportdesk.routing import websocket_urlpatterns
from tests.factories import AgentProfileFactory
from tests.sockets import agent_communicator

EXAMPLES = int(os.environ.get("FUZZ_CHAT_EXAMPLES", "15"))
RECEIVE_TIMEOUT = 10
FIELDS = ["after", "body", "client_id", "sequence", "email", "conversation_id", "token", "identity", "session"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def _nested(depth: int, kind: str) -> str:
    return "[" * depth + "]" * depth if kind == "list" else '{"a": ' * depth + "1" + "}" * depth


deep_documents = st.builds(_nested, st.integers(1, 5000), st.sampled_from(["list", "object"]))


def frame_objects(types: frozenset[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects shaped like frames: a type the socket knows (or anything at all), any fields."""
    return st.fixed_dictionaries(
        {"type": st.sampled_from(sorted(types)) | json_values},
        optional={name: json_values | st.integers(-(2**70), 2**70) for name in FIELDS})


def frames(types: frozenset[str]) -> st.SearchStrategy[str | bytes]:
    return st.one_of(
        frame_objects(types).map(json.dumps),  # json.dumps writes NaN, Infinity and lone surrogates too
        json_values.map(json.dumps),
        deep_documents,
        st.text(max_size=200),
        st.binary(max_size=200),
    )


def _is_a_frame(raw: str | bytes, types: frozenset[str]) -> bool:
    try:
        frame = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return isinstance(frame, dict) and isinstance(frame.get("type"), str) and frame["type"] in types


@pytest.fixture
def _generous_limits(settings):
    # Many frames a second from one test: the limits are tested elsewhere. This test's own counters.
    settings.REDIS_KEY_PREFIX = f"test-{uuid.uuid4().hex}"
    settings.CHAT_RATE_VISITOR = settings.CHAT_RATE_IP = settings.CHAT_RATE_AGENT = "1000000/10"
    settings.CHAT_RATE_CONNECT_IP = "1000000/60"
    settings.CELERY_TASK_ALWAYS_EAGER = True  # a message that opens a chat is routed in process


async def _exchange(socket: WebsocketCommunicator, sent: list[str | bytes], probe: dict,
                    is_probe_answer: Any, *, greeted: bool) -> list[list[dict]]:
    """Each frame followed by a probe: the answers each frame got before the probe's."""
    connected, _ = await socket.connect()
    assert connected
    if greeted:
        assert (await socket.receive_json_from(timeout=RECEIVE_TIMEOUT))["type"] == "ready"
    answers = []
    for raw in sent:
        # Straight to the application: the communicator's send_to refuses an empty frame.
        await socket.send_input({"type": "websocket.receive", "bytes" if isinstance(raw, bytes) else "text": raw})
        await socket.send_json_to(probe)
        got = []
        while not is_probe_answer(answer := await socket.receive_json_from(timeout=RECEIVE_TIMEOUT)):
            got.append(answer)
        answers.append(got)
    await socket.disconnect()
    return answers


def _check(sent: list[str | bytes], answers: list[list[dict]], types: frozenset[str]) -> None:
    for raw, got in zip(sent, answers, strict=True):
        assert all(isinstance(answer.get("type"), str) for answer in got), got
        assert not [answer for answer in got if answer.get("code") == "server_error"], (raw[:200], got)
        if not _is_a_frame(raw, types):
            # (it may also have been taken for the probe's answer, then this frame's list is empty)
            assert not got or got[0]["type"] == "error", (raw[:200], got)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_channel_layer", "_generous_limits")
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(sent=st.lists(frames(VisitorConsumer.frame_types), min_size=1, max_size=6))
def test_the_visitors_socket_answers_anything_and_stays_open(sent):
    token = widget.session_encode(widget.Session(visitor=uuid.uuid4().hex))
    socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/chat/?token={token}")

    answers = async_to_sync(_exchange)(
        socket, sent, {"type": "sync", "after": -1},
        lambda answer: answer.get("code") == "invalid_sequence", greeted=True)

    _check(sent, answers, VisitorConsumer.frame_types)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_channel_layer", "_generous_limits")
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(sent=st.lists(frames(AgentConsumer.frame_types), min_size=1, max_size=6))
def test_the_agents_socket_answers_anything_and_stays_open(sent):
    socket = agent_communicator(AgentProfileFactory().user)

    answers = async_to_sync(_exchange)(
        socket, sent, {"type": "sync", "conversation_id": "probe"},
        lambda answer: answer.get("code") == "invalid_conversation_id", greeted=False)

    _check(sent, answers, AgentConsumer.frame_types)


@pytest.mark.django_db
@pytest.mark.usefixtures("_generous_limits")
@settings(max_examples=EXAMPLES * 4, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(body=st.one_of(
    frame_objects(frozenset({"identity", "session"})).map(json.dumps),
    st.fixed_dictionaries({}, optional={"identity": json_values, "session": json_values}).map(json.dumps),
    json_values.map(json.dumps), deep_documents, st.text(max_size=300), st.binary(max_size=300)))
def test_the_widget_session_endpoint_answers_anything_without_failing(client, body):
    response = client.post("/widget/session", data=body, content_type="application/json")

    assert response.status_code in (200, 400, 401), response.status_code
    if response.status_code != 200:
        assert set(response.json()["error"]) >= {"code", "message"}
