"""An agent's socket lives no longer than their login: logging out closes it, and a socket
whose login is gone (logged out elsewhere, password changed) answers no frame."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.test import Client

from conversations.consumers import NOT_SIGNED_IN
from supportdesk.push import flush
from tests.factories import AgentFactory
from tests.sockets import agent_communicator, login_session_key

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("private_channel_layer")]

RECEIVE_TIMEOUT = 5  # a guard against a hang only


def _logout(session_key: str) -> None:
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    assert client.post("/desk/logout/").status_code == 302
    flush()


def test_logging_out_closes_the_sockets_of_that_login_and_only_those():
    agent = AgentFactory()
    this_login, other_login = login_session_key(agent), login_session_key(agent)

    async def scenario():
        here = agent_communicator(agent, session_key=this_login)
        elsewhere = agent_communicator(agent, session_key=other_login)
        assert (await here.connect())[0] and (await elsewhere.connect())[0]

        await sync_to_async(_logout)(this_login)

        told = await here.receive_json_from(timeout=RECEIVE_TIMEOUT)
        closed = await here.receive_output(timeout=RECEIVE_TIMEOUT)
        await elsewhere.send_json_to({"type": "heartbeat"})
        still_working = await elsewhere.receive_nothing(timeout=0.5)
        await elsewhere.disconnect()
        return told, closed, still_working

    told, closed, still_working = async_to_sync(scenario)()

    assert told["type"] == "error" and told["code"] == "signed_out"
    assert closed == {"type": "websocket.close", "code": NOT_SIGNED_IN}
    assert still_working  # no error frame, no close: the other login's socket goes on


@pytest.mark.parametrize("how", ["session deleted without the logout push", "password changed"])
def test_a_socket_whose_login_is_gone_answers_no_frame(how):
    agent = AgentFactory()
    session_key = login_session_key(agent)

    def login_gone() -> None:
        if how == "password changed":
            agent.set_password("a new and different password")
            agent.save()
        else:
            from importlib import import_module

            import_module(settings.SESSION_ENGINE).SessionStore(session_key).delete()

    async def scenario():
        socket = agent_communicator(agent, session_key=session_key)
        assert (await socket.connect())[0]
        await sync_to_async(login_gone)()

        await socket.send_json_to({"type": "watch", "conversation_id": 1})
        answer = await socket.receive_json_from(timeout=RECEIVE_TIMEOUT)
        closed = await socket.receive_output(timeout=RECEIVE_TIMEOUT)
        return answer, closed

    answer, closed = async_to_sync(scenario)()

    assert answer["code"] == "signed_out"
    assert closed == {"type": "websocket.close", "code": NOT_SIGNED_IN}
