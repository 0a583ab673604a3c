"""Segments: saved filters over contacts whose members are kept up to date as events arrive.

What other parts call (imported lazily, so the package imports before the app registry):
`segment_member_ids(segment_id)`, `segment_add(segment_id, contact_id, *, actor)`,
`segment_remove(...)`.
"""

from __future__ import annotations

from typing import Any


def segment_member_ids(segment_id: int) -> Any:
    from workflows.segments.services import segment_member_ids as member_ids

    return member_ids(segment_id)


def segment_add(segment_id: int, contact_id: int, *, actor: str) -> bool:
    from workflows.segments.services import segment_add as add

    return add(segment_id, contact_id, actor=actor)


def segment_remove(segment_id: int, contact_id: int, *, actor: str) -> bool:
    from workflows.segments.services import segment_remove as remove

    return remove(segment_id, contact_id, actor=actor)
