"""Last-writer-wins per field, so events that arrive out of order converge.

Each mirrored row keeps, per field, the time of the event that last set it (microseconds
since the epoch). An incoming value wins only if its event is at least as new.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


def version_of(occurred_at: datetime) -> int:
    return int(occurred_at.timestamp() * 1_000_000)


def newer_fields(
    current_versions: dict[str, int], incoming: dict[str, Any], occurred_at: datetime
) -> tuple[dict[str, Any], dict[str, int]]:
    """The incoming fields that are not older than what is stored, and the updated versions."""
    version = version_of(occurred_at)
    winners = {
        field: value
        for field, value in incoming.items()
        if current_versions.get(field, -1) <= version
    }
    versions = dict(current_versions)
    versions.update({field: version for field in winners})
    return winners, versions
