"""Back-pressure: a bulk producer gives way while work that must follow within seconds is behind.

The OMS drain catching up on a stored backlog writes thousands of timeline events a second,
faster than the reactions to them (workflow triggers and timers) can follow on a small
machine sharing its cores. Left alone, the reactions' queue grows for as long as the backlog
lasts, and every event behind it in that queue (a chat message's trigger as much as an
order's) waits its turn: seconds become minutes. So a layer whose work is latency-sensitive
registers a probe saying whether it is behind (from its app's `ready()`; a lower layer never
imports it), and a bulk producer calls `give_way` between its batches: it waits while some
probe says behind, for at most `BACKPRESSURE_MAX_WAIT_SECONDS` a batch, so the bulk work
still moves when a consumer is stuck (its backlog is stored, and counted in the admin).
The backlog the producer holds back stays where it already is, durable: the OMS events table.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings

log = logging.getLogger(__name__)

_probes: dict[str, Callable[[], bool]] = {}
POLL_SECONDS = 0.05


def probe_register(name: str, behind: Callable[[], bool]) -> None:
    """`behind()` says whether `name`'s latency-sensitive work has fallen behind (a cheap
    query: it is asked between every batch of a bulk producer). Idempotent by name."""
    _probes[name] = behind


def behind() -> list[str]:
    """The names of the probes that say behind now (a probe that fails counts as not behind:
    back-pressure is an optimisation, never a reason to stop)."""
    names = []
    for name, probe in _probes.items():
        try:
            if probe():
                names.append(name)
        except Exception:  # noqa: BLE001
            log.warning("Back-pressure probe %s failed; taken as not behind", name, exc_info=True)
    return names


def give_way(*, max_seconds: float | None = None) -> float:
    """Wait while some probe says behind, at most `max_seconds` (default
    BACKPRESSURE_MAX_WAIT_SECONDS); the seconds waited. Call it outside a transaction."""
    limit = settings.BACKPRESSURE_MAX_WAIT_SECONDS if max_seconds is None else max_seconds
    if limit <= 0 or not _probes:
        return 0.0
    began = time.monotonic()
    while behind():
        waited = time.monotonic() - began
        if waited >= limit:
            break
        time.sleep(min(POLL_SECONDS, limit - waited))
    return time.monotonic() - began
