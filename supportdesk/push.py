"""The one way anything is pushed to websocket groups: after commit, in order, off the caller's thread.

Pushes leave through one event loop per process, on a thread of its own, in the order
they were made: the caller does not wait for Redis, and the channel layer keeps its
connection instead of opening one per push (channels_redis pools per event loop, and
`async_to_sync` from sync code would run each push in a new loop). A push that fails
(Redis down) is logged and dropped: the write it announces has committed, and pages
resync from the database when they reconnect.

Each app names its own groups in its own `push.py` (routing: agents; conversations:
conversations and supervisors) and sends through `send_on_commit`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any

from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)


class _Sender:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue | None = None

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked worker child
                loop = asyncio.new_event_loop()
                self._queue = asyncio.Queue()
                threading.Thread(target=loop.run_forever, name="routing-push", daemon=True).start()
                asyncio.run_coroutine_threadsafe(self._drain(self._queue), loop)
                self._loop, self._pid = loop, os.getpid()
            return self._loop

    def submit(self, group: str, message: dict[str, Any]) -> None:
        loop = self._ensure()
        loop.call_soon_threadsafe(self._queue.put_nowait, (group, message))

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every push made so far has been sent (tests, shutdown)."""
        loop = self._ensure()
        asyncio.run_coroutine_threadsafe(self._queue.join(), loop).result(timeout)

    @staticmethod
    async def _drain(queue: asyncio.Queue) -> None:
        while True:
            group, message = await queue.get()
            try:
                layer = get_channel_layer()
                if layer is not None:
                    await layer.group_send(group, message)
            except Exception:  # the write committed; a lost push must not stop the others
                log.warning("Could not push %s to %s", message.get("event") or message.get("type"), group,
                            exc_info=True)
            finally:
                queue.task_done()


_sender = _Sender()
flush = _sender.flush


def send_on_commit(group: str, message: dict[str, Any]) -> None:
    transaction.on_commit(lambda: _sender.submit(group, message))
