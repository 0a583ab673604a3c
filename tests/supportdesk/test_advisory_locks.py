"""Advisory lock keys: named in one module, distinct, and the only ones the code takes."""

from __future__ import annotations

import pathlib
import re

from supportdesk import advisory_locks

ROOT = pathlib.Path(__file__).resolve().parents[2]
APPS = ("supportdesk", "timeline", "routing", "conversations", "workflows", "integrations", "reports")


def test_the_keys_are_distinct_in_each_key_space():
    for keys in (advisory_locks.SINGLE_KEYS, advisory_locks.PAIR_CLASSES):
        assert len(set(keys.values())) == len(keys), keys


def test_every_key_is_listed():
    listed = {**advisory_locks.SINGLE_KEYS, **advisory_locks.PAIR_CLASSES}
    constants = {name: value for name, value in vars(advisory_locks).items()
                 if name.isupper() and isinstance(value, int)}
    assert constants == listed


def test_keys_fit_their_space():
    for key in advisory_locks.SINGLE_KEYS.values():
        assert -(2**63) <= key < 2**63
    for key in advisory_locks.PAIR_CLASSES.values():
        assert -(2**31) <= key < 2**31
    assert 0 <= advisory_locks.pair_id(2**40 + 5) < 2**31


def test_no_code_takes_a_key_written_in_place():
    """A lock call passes a key from the module, not a number of its own."""
    call = re.compile(r"pg_(?:try_)?advisory_(?:xact_)?lock\(%s(?:, %s)?\)\",\s*\[([^\]]*)\]")
    found = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            for match in call.finditer(path.read_text()):
                found.append((str(path.relative_to(ROOT)), match.group(1)))
    assert found, "no advisory lock calls found: the pattern is out of date"
    for path, arguments in found:
        first = arguments.split(",")[0].strip()
        assert re.fullmatch(r"(advisory_locks\.)?[A-Z_]+", first), (path, arguments)
