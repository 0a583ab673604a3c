"""Which timeline events the segments' membership consumer needs: none while no segment is
active, and a contact's change only when some active segment reads a field it changed (a
workflow tagging a million contacts while the segments look at their value and ratings
writes no entry for them). Asked of every event by the timeline's writers, so it answers
from what it read of the active segments a moment ago."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Mapping
from typing import Any

from timeline import events
from timeline.models import Contact, TimelineEvent
from workflows.segments.models import Segment
from workflows.segments.sql import COLUMNS, CUSTOM_PREFIX, windowed_attribute

# Kinds the consumer never needs: its own records, and what a contact's segments do not read.
IGNORED_KINDS = frozenset({"segment.entered", "segment.left", "outreach.sent", "workflow.run"})

_active_cache: dict[str, Any] = {"until": 0.0, "value": None}
ACTIVE_CACHE_SECONDS = 5.0
ANY_FIELD = "*"


def active_segments_clear() -> None:
    _active_cache["until"] = 0.0


def _read_fields(condition: Mapping[str, Any]) -> Iterable[str]:
    """The contact's fields a condition reads, as a contact.updated event names them in its
    changes ("tags", "tier", "attributes", ...); ANY_FIELD for one it cannot tell. Counts over
    a window of days read other events, never a contact.updated."""
    for group in ("all", "any"):
        if group in condition:
            for part in condition[group]:
                yield from _read_fields(part)
            return
    name = condition.get("attribute", "")
    if name in COLUMNS:
        yield COLUMNS[name][0].removeprefix("c.")
    elif name.startswith(CUSTOM_PREFIX):
        yield "attributes"
    elif windowed_attribute(name) is None:
        yield ANY_FIELD


def _active_fields() -> frozenset[str] | None:
    """The contact's fields the active segments read (None: no segment is active), cached
    for a moment in the process: the timeline's writers ask it of every event."""
    now = time.monotonic()
    if now >= _active_cache["until"]:
        fields: set[str] | None = None
        for conditions in Segment.objects.filter(is_active=True).values_list("conditions", flat=True):
            fields = fields or set()
            if conditions:
                fields.update(_read_fields(conditions))
        _active_cache["value"] = None if fields is None else frozenset(fields)
        _active_cache["until"] = now + ACTIVE_CACHE_SECONDS
    return _active_cache["value"]


def wanted(event: TimelineEvent) -> bool:
    # No entry at all while no segment is active: the timeline's writers pay nothing. Nor for
    # a change of the contact no active segment reads (a workflow tagging a million contacts
    # while the segments look at their value and ratings).
    if event.kind in IGNORED_KINDS:
        return False
    fields = _active_fields()
    if fields is None:
        return False
    if event.kind != events.EventKind.CONTACT_UPDATED or ANY_FIELD in fields:
        return True
    changes = (event.payload or {}).get("changes")
    if not isinstance(changes, dict) or not changes:
        return True
    # A change of anything but a field of the contact that no segment reads (say, a name of
    # the producer's own) is taken as possibly read: wanted.
    return any(root in fields or root not in _contact_fields()
               for root in (str(name).partition(".")[0] for name in changes))


@functools.cache
def _contact_fields() -> frozenset[str]:
    return frozenset(field.name for field in Contact._meta.concrete_fields)
