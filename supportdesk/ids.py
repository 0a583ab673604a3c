"""Ids read from text people type or strings we stored: ASCII digits that fit PostgreSQL's
bigint, or nothing. `"²".isdigit()` is true and `int("²")` fails; twenty digits pass
`isdigit()` and overflow the column: both would be a 500 where the answer is "no such id"."""

from __future__ import annotations

BIGINT_MAX = 2**63 - 1


def id_from_text(value: object) -> int | None:
    """The positive id `value` spells (surrounding spaces allowed), else None."""
    text = str(value).strip() if value is not None else ""
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if 0 < number <= BIGINT_MAX else None
