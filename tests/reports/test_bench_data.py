"""The reports benchmark's data (tests/bench/reports_data.py) follows the desk's own rules.

The benchmark writes its facts and counters per hour with SQL, straight from its draws, for
ten million conversations. Here a small data set is generated the same way *with* the
history the facts are worked out from (routing events, messages, status changes, surveys),
then `rollups_rebuild` works the facts and counters out again in Python (reports.facts,
reports.contributions): both must agree, fact by fact and counter by counter. The presence
counters, which a rebuild keeps, are compared with reports.contributions' sums of the
generated presence stretches.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from reports import rollups
from reports.contributions import Deltas
from reports.models import (
    AGENT_COUNTERS,
    HOUR_COUNTERS,
    HOUR_DIMENSIONS,
    AgentHourRollup,
    ConversationFact,
    DayRollup,
    HourRollup,
    ItemFact,
    PresenceFact,
)
from tests.bench import reports_data

pytestmark = pytest.mark.django_db

END = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
PRESENCE = ("online_seconds", "away_seconds", "offline_seconds")


def _close(a: Any, b: Any) -> bool:
    """Equal, floats within summing's rounding: a microsecond, or 1e-12 of the value (about 2 ms
    of an epoch time in the held spans, 1e-5 s of a sum of ten million seconds)."""
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-6)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _differences(name: str, expected: dict, found: dict) -> list[str]:
    problems = [f"{name} {key}: only in the generated data" for key in expected.keys() - found.keys()]
    problems += [f"{name} {key}: only in the rebuild" for key in found.keys() - expected.keys()]
    for key in expected.keys() & found.keys():
        for field, value in expected[key].items():
            if not _close(value, found[key][field]):
                problems.append(f"{name} {key} {field}: generated {value!r}, rebuilt {found[key][field]!r}")
    return problems


def _facts(model: Any, key: str) -> dict[Any, dict[str, Any]]:
    fields = [field.attname for field in model._meta.concrete_fields]
    return {row[key]: row for row in model.objects.values(*fields)}


def _hours() -> dict[tuple, dict[str, Any]]:
    return {tuple(row[name] for name in ("hour", *HOUR_DIMENSIONS)): row
            for row in HourRollup.objects.values("hour", *HOUR_DIMENSIONS, "wait_max", *HOUR_COUNTERS)}


def _days() -> dict[tuple, dict[str, Any]]:
    return {tuple(row[name] for name in ("day", *HOUR_DIMENSIONS)): row
            for row in DayRollup.objects.values("day", *HOUR_DIMENSIONS, "wait_max", *HOUR_COUNTERS)
            if any(row[name] for name in ("wait_max", *HOUR_COUNTERS))}


def _agent_work() -> dict[tuple, dict[str, Any]]:
    work = [name for name in AGENT_COUNTERS if name not in PRESENCE]
    rows = AgentHourRollup.objects.values("hour", "agent_id", "queue_id", "channel", *work)
    return {(row["hour"], row["agent_id"], row["queue_id"], row["channel"]): row for row in rows
            if any(row[name] for name in work)}


def test_generated_facts_and_counters_equal_a_rebuild_from_the_generated_history():
    dataset = reports_data.dataset_for(conversations=800, days=10, contacts=60, end=END, history=True)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # every reference checked as it is written
    reports_data.dataset_generate(dataset, chunk_rows=300)  # in several chunks, as the big one
    generated = {"conversation": _facts(ConversationFact, "conversation_id"), "item": _facts(ItemFact, "item_id"),
                 "hour": _hours(), "day": _days(), "agent": _agent_work()}

    # The sample holds every case the rules tell apart.
    conversations, items = generated["conversation"].values(), generated["item"].values()
    outcomes = Counter(item["outcome"] for item in items)
    assert len(conversations) == 800 and outcomes["answered"] > 500
    assert outcomes["abandoned"] >= 5 and outcomes["open"] >= 2
    assert any(item["outcome"] == "abandoned" and item["wait_seconds"] < 5 for item in items)
    kinds = Counter(event[1] for item in items for event in item["agent_events"])
    assert kinds["missed"] >= 3 and kinds["declined"] >= 2
    resolved = [fact for fact in conversations if fact["resolved_at"] is not None]
    assert sum(fact["agents"] == 2 for fact in resolved) >= 5  # transferred
    assert sum(fact["reopened"] for fact in resolved) >= 3
    repeats = [fact for fact in resolved if not fact["fcr"] and not fact["reopened"] and fact["agents"] == 1]
    assert len(repeats) >= 10  # not first-contact: the contact wrote again on the same reason
    assert sum(fact["rating"] is not None for fact in resolved) >= 20 and any(fact["next_reply_count"]
                                                                            for fact in resolved)
    assert any(fact["resolved_at"] is None and fact["agent_id"] for fact in conversations)  # held, open

    rollups.rollups_rebuild(dataset.start, dataset.end + timedelta(hours=1))

    rebuilt = {"conversation": _facts(ConversationFact, "conversation_id"), "item": _facts(ItemFact, "item_id"),
               "hour": _hours(), "day": _days(), "agent": _agent_work()}
    problems = []
    for name in generated:
        problems += _differences(name, generated[name], rebuilt[name])
    assert not problems, f"{len(problems)} differences, the first: " + "\n".join(problems[:20])


def test_generated_presence_counters_equal_the_contributions_of_the_presence_stretches():
    dataset = reports_data.dataset_for(conversations=50, days=4, contacts=20, end=END)
    reports_data.dataset_generate(dataset)

    deltas = Deltas()
    for fact in PresenceFact.objects.all():
        deltas.presence(fact, +1)
    expected = {key: {name: counters.get(name, 0.0) for name in PRESENCE} for key, counters in deltas.agent_rows()}
    found = {(row["hour"], row["agent_id"], row["queue_id"], row["channel"]): row
             for row in AgentHourRollup.objects.filter(queue_id=0, channel="").values(
                 "hour", "agent_id", "queue_id", "channel", *PRESENCE)}
    assert PresenceFact.objects.filter(ended_at__isnull=True).exists()  # the stretches going on at the end
    assert sum(row["online_seconds"] for row in expected.values()) > 0
    assert not _differences("presence", expected, found)
