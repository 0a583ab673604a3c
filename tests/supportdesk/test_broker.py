"""The broker transport keeps a message Redis handed out as it died (supportdesk/broker.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from kombu import Connection, Exchange, Queue

from tests.supportdesk.test_worker_outage import PrivateRedis

TRANSPORT = "supportdesk.broker:Transport"


def test_a_message_taken_as_redis_died_goes_back_to_its_queue(tmp_path: Path) -> None:
    broker = PrivateRedis(tmp_path / "redis")
    broker.start()
    queue = Queue("broker-test", Exchange("broker-test"), "broker-test")
    try:
        with Connection(broker.url, transport=TRANSPORT) as connection:
            connection.Producer().publish({"number": 1}, exchange=queue.exchange,
                                          routing_key=queue.routing_key, declare=[queue])
            channel = connection.default_channel
            # Given a message BRPOP took off its queue, as the worker's consumer does,
            message = channel.Message(json.loads(broker.client().rpop("broker-test")), channel=channel)

            # when Redis dies before the consumer notes the message as unacknowledged,
            broker.stop()
            with pytest.raises(redis.ConnectionError):
                channel.qos.append(message, message.delivery_tag)
        broker.start()

        # then the next consumer puts it back on its queue, and gets it.
        received = []
        with Connection(broker.url, transport=TRANSPORT) as connection, connection.Consumer(
            queue, callbacks=[lambda body, message: (received.append(body), message.ack())],
        ):
            connection.drain_events(timeout=30)
        assert received == [{"number": 1}]
    finally:
        broker.stop()
