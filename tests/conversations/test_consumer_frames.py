"""Malformed frames on both sockets: every one is answered by an error frame, the socket stays
open, and every frame, valid or not, counts against the sender's rate limit."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from conversations import widget
from supportdesk.routing import websocket_urlpatterns
from tests.factories import AgentProfileFactory, SupervisorFactory
from tests.sockets import agent_communicator

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("private_channel_layer")]

RECEIVE_TIMEOUT = 5
DEEP = 5000  # far past Python's recursion limit

MALFORMED_FRAMES = {
    "deep list": "[" * DEEP + "]" * DEEP,
    "deep object": '{"type": ' * DEEP + '"sync"' + "}" * DEEP,
    "deep field": '{"type": "sync", "after": ' + "[" * DEEP + "]" * DEEP + "}",
    "type is a list": '{"type": ["sync"]}',
    "type is an object": '{"type": {"sync": 1}}',
    "type is a number": '{"type": 1}',
    "type is null": '{"type": null}',
    "NUL in a string": '{"type": "sync", "after": 0, "x": "a\\u0000b"}',
    "NUL in a key": '{"type": "sync", "a\\u0000b": 0}',
    "lone surrogate": '{"type": "sync", "after": 0, "x": "\\ud800"}',
    "NaN": '{"type": "sync", "after": NaN}',
    "a huge exponent": '{"type": "sync", "after": 1e999}',
    "not UTF-8": b'{"type": "sync", "x": "\xff\xfe"}',
    "a bare string": '"sync"',
}


@pytest.fixture(autouse=True)
def _isolated(settings):
    # This test's rate-limit counters only (other runs share the Redis); frames big enough that
    # their nesting, not their size, is what stops them.
    settings.REDIS_KEY_PREFIX = f"test-{uuid.uuid4().hex}"
    settings.CHAT_FRAME_MAX_BYTES = 1_000_000


def _visitor_socket() -> WebsocketCommunicator:
    token = widget.session_encode(widget.Session(visitor=uuid.uuid4().hex))
    return WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/chat/?token={token}")


def _agent_socket(user) -> WebsocketCommunicator:
    return agent_communicator(user)  # signed in with a real login session, as a browser is


async def _send(socket: WebsocketCommunicator, frame: str | bytes | dict) -> None:
    if isinstance(frame, dict):
        await socket.send_json_to(frame)
    elif isinstance(frame, bytes):
        await socket.send_to(bytes_data=frame)
    else:
        await socket.send_to(text_data=frame)


async def _answers(socket: WebsocketCommunicator, frames: list, *, opened: bool = False) -> list[dict]:
    """The first answer to each frame (the `ready` greeting of a visitor's socket skipped)."""
    connected, _ = await socket.connect()
    assert connected
    if opened:
        assert (await socket.receive_json_from(timeout=RECEIVE_TIMEOUT))["type"] == "ready"
    answers = []
    for frame in frames:
        await _send(socket, frame)
        answers.append(await socket.receive_json_from(timeout=RECEIVE_TIMEOUT))
    await socket.disconnect()
    return answers


def _first_codes(answers: list[dict]) -> dict[str, str]:
    """Each malformed frame's answer (the frames were sent each followed by a probe)."""
    return {name: answer.get("code", answer["type"])
            for name, answer in zip(MALFORMED_FRAMES, answers[::2], strict=True)}


def _malformed_then_probe(probe: dict) -> list:
    return [frame for malformed in MALFORMED_FRAMES.values() for frame in (malformed, probe)]


def test_malformed_frames_on_the_visitors_socket_get_errors_and_the_socket_still_answers():
    answers = async_to_sync(_answers)(_visitor_socket(), _malformed_then_probe({"type": "sync", "after": 0}),
                                      opened=True)

    assert set(_first_codes(answers).values()) <= {"bad_json", "unknown_type"}, _first_codes(answers)
    assert {answer["type"] for answer in answers[1::2]} == {"synced"}


def test_malformed_frames_on_the_agents_socket_get_errors_and_the_socket_still_answers():
    user = AgentProfileFactory().user
    probe = {"type": "sync", "conversation_id": "none", "after": 0}

    answers = async_to_sync(_answers)(_agent_socket(user), _malformed_then_probe(probe))

    assert set(_first_codes(answers).values()) <= {"bad_json", "unknown_type"}, _first_codes(answers)
    assert {answer.get("code") for answer in answers[1::2]} == {"invalid_conversation_id"}


def test_invalid_frames_count_against_the_visitors_rate(settings):
    settings.CHAT_RATE_VISITOR = "3/60"

    answers = async_to_sync(_answers)(
        _visitor_socket(), ["not json", {"type": 7}, {"type": "nope"}, {"type": "sync", "after": 0}], opened=True)

    assert [answer["code"] for answer in answers[:3]] == ["bad_json", "unknown_type", "unknown_type"]
    assert answers[3]["code"] == "rate_limited" and answers[3]["retry_after"] > 0


@pytest.mark.parametrize("who", ["agent", "supervisor"])
def test_an_agents_frames_are_rate_limited_heartbeats_included(settings, who):
    settings.CHAT_RATE_AGENT = "3/60"
    user = AgentProfileFactory().user if who == "agent" else SupervisorFactory()

    async def scenario() -> list[dict]:
        socket = _agent_socket(user)
        assert (await socket.connect())[0]
        for _ in range(3):  # a heartbeat is answered by nothing, but it is counted
            await socket.send_json_to({"type": "heartbeat"})
        await socket.send_json_to({"type": "nope"})
        answer = await socket.receive_json_from(timeout=RECEIVE_TIMEOUT)
        await socket.disconnect()
        return answer

    answer = async_to_sync(scenario)()

    assert answer["type"] == "error" and answer["code"] == "rate_limited" and answer["retry_after"] > 0


@pytest.mark.parametrize("path", ["/ws/nowhere/", "/ws/agent/extra", "/", "/ws/chat"])
def test_a_socket_to_an_unknown_path_is_refused_at_the_handshake(path):
    from supportdesk.asgi import application

    async def scenario():
        socket = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://localhost")])
        return await socket.connect()

    connected, _ = async_to_sync(scenario)()

    assert connected is False
