"""The browsers' copy of the socket protocol's names is the one generated from Python."""

from __future__ import annotations

from django.conf import settings

from supportdesk import protocol


def test_the_js_protocol_module_is_the_one_generated_from_python():
    written = (settings.BASE_DIR / "static" / "common" / "protocol.js").read_text(encoding="utf-8")

    assert written == protocol.js_module(), "run `python manage.py protocol_js` and commit the result"


def test_the_generated_module_carries_every_close_code_and_frame_type():
    module = protocol.js_module()

    assert '"NOT_SIGNED_IN": 4401' in module and '"RATE_LIMITED": 4429' in module
    assert '"CHAT_MESSAGE": "chat.message"' in module and '"SUPERVISOR_SNAPSHOT": "supervisor.snapshot"' in module


def test_every_frame_a_browser_may_send_is_taken_and_handled_by_a_consumer():
    from conversations.consumers import AgentConsumer
    from conversations.visitor_consumer import VisitorConsumer

    consumers = (AgentConsumer, VisitorConsumer)
    taken = set().union(*(consumer.frame_types for consumer in consumers))

    assert taken == set(protocol.constants(protocol.ClientFrame).values())
    for consumer in consumers:
        for kind in consumer.frame_types:
            assert callable(getattr(consumer, f"frame_{kind}", None)), (consumer.__name__, kind)
