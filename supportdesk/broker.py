"""The Celery broker transport: kombu's Redis transport, with channels that finish closing when
the server went away under them.

Why this exists: with celery 5.7 and kombu 5.7, a Redis outage of a second killed the worker
whenever it held unacknowledged messages at that moment, which under webhook traffic is nearly
always (tasks sent with a countdown wait unacknowledged in the worker until their time, and
late-acknowledged tasks until they end). On a lost connection the worker first collects the
connection, closing its channels, then closes it once more. Closing the consuming channel starts
by reading the pending BRPOP reply; on the dead socket that raises, and kombu leaves the channel
open. collect() then detaches the transport from the connection, so the second close goes on to
put the unacknowledged messages back, builds a Redis pool from the detached transport and fails
with AttributeError. The worker does not take that for a connection error: "Unrecoverable error",
and the process exits. (The second close is new in celery 5.7.0, celery PR #10242; 5.6 only
collected, and could hang there. kombu 5.7.0, the newest, still leaves the channel open: drop
this module once tests/supportdesk/test_worker_outage.py passes without it.)

Here a closing channel takes the BRPOP reply that died with the socket as nothing to read, and
closes completely the first time, while the transport is still attached. Putting the messages
back then either works (the connection dropped, Redis is up: they return to their queue at
once) or fails as a connection error, which the worker rides out; the messages then wait in
Redis's unacked index until the visibility timeout (settings.py) hands them out again.

A second gap, kombu's own: BRPOP takes a message off its queue, and only then does the worker
note it as unacknowledged. When Redis dies between the two, the message was in this process
alone and kombu dropped it. Here it is kept, and put back at the front of its queue as soon as
the worker consumes again (it is lost only if the worker dies too before Redis comes back).
"""

from __future__ import annotations

import logging
import threading
from queue import Empty
from typing import Any

from kombu.transport import redis

logger = logging.getLogger(__name__)

# Messages taken off their queue that Redis went away before they were noted as unacknowledged:
# (payload, exchange, routing key). Per process, as a lost connection's transport is discarded.
_taken_unrecorded: list[tuple[dict, str, str]] = []
_taken_unrecorded_lock = threading.Lock()


class QoS(redis.QoS):
    def append(self, message: Any, delivery_tag: str) -> None:
        try:
            super().append(message, delivery_tag)
        except self.channel.connection_errors:
            delivery = message.delivery_info
            with _taken_unrecorded_lock:
                _taken_unrecorded.append((message._raw, delivery["exchange"], delivery["routing_key"]))
            logger.warning("Broker lost while taking a message: it goes back to its queue on reconnection")
            raise


class Channel(redis.Channel):
    QoS = QoS

    def basic_consume(self, queue: str, *args: Any, **kwargs: Any) -> Any:
        self._taken_unrecorded_put_back()
        return super().basic_consume(queue, *args, **kwargs)

    def _taken_unrecorded_put_back(self) -> None:
        """Put the messages a lost connection took back at the front of their queues (a connection
        error here leaves them kept, and the worker reconnects again)."""
        with _taken_unrecorded_lock:
            while _taken_unrecorded:
                payload, exchange, routing_key = _taken_unrecorded[0]
                with self.conn_or_acquire() as client, client.pipeline() as pipe:
                    self._do_restore_message(payload, exchange, routing_key, pipe)
                    pipe.execute()
                _taken_unrecorded.pop(0)

    def _brpop_read(self, **options: Any) -> bool:
        try:
            return super()._brpop_read(**options)
        except self.connection_errors:
            if not self._closing:
                raise
            # The reply died with the socket: there is nothing left to read (close() expects Empty).
            logger.debug("Broker connection lost while closing the channel", exc_info=True)
            raise Empty() from None


class Transport(redis.Transport):
    Channel = Channel
