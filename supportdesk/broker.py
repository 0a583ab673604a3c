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
and the process exits.

Here a channel that is closing treats what the dead socket lost (the BRPOP reply, the deletion
of its fanout queues) as gone, and closes completely the first time. Putting the messages back
then runs while the transport is still attached: with Redis up they go straight back to their
queue; with Redis down it fails as a connection error, which the worker rides out, and the
messages wait in Redis's unacked index until the visibility timeout hands them out again.
"""

from __future__ import annotations

import logging
from queue import Empty
from typing import Any

from kombu.transport import redis

logger = logging.getLogger(__name__)


class Channel(redis.Channel):
    def _brpop_read(self, **options: Any) -> bool:
        try:
            return super()._brpop_read(**options)
        except self.connection_errors:
            if not self._closing:
                raise
            # The reply died with the socket: there is nothing left to read (close() expects Empty).
            logger.debug("Broker connection lost while closing the channel", exc_info=True)
            raise Empty() from None

    def queue_delete(self, queue: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().queue_delete(queue, *args, **kwargs)
        except self.connection_errors:
            if not self._closing:
                raise
            # An auto-delete fanout queue of a dead connection: its binding expires in Redis.
            logger.debug("Broker connection lost while deleting queue %s", queue, exc_info=True)
            return 0


class Transport(redis.Transport):
    Channel = Channel
