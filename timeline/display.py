"""A timeline event as a person reads it: who did it by name, and its facts without the empty
ones ("promised_at None" says nothing). The stored event and the API keep the raw values;
only pages go through here."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from supportdesk.actors import actor_names
from timeline.models import TimelineEvent


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def fact_text(value: Any) -> str:
    """One payload value in words: a list joined, a mapping as "name: value" pairs (its empty
    values left out, as the payload's own are)."""
    if isinstance(value, dict):
        return ", ".join(f"{key}: {fact_text(item)}" for key, item in value.items() if not _empty(item))
    if isinstance(value, list | tuple):
        return ", ".join(fact_text(item) for item in value if not _empty(item))
    if isinstance(value, bool):
        return "✓" if value else "✗"
    return str(value)


def event_facts(payload: Any) -> list[tuple[str, str]]:
    """The payload's non-empty facts, in their stored order."""
    if not isinstance(payload, dict):
        return []
    facts = ((name, fact_text(value)) for name, value in payload.items() if not _empty(value))
    return [(name, text) for name, text in facts if text]


# Kinds whose payload says what happened in a sentence: shown as a headline, not as facts.
HEADLINE_KINDS = {"workflow.run": ("workflow", "summary")}


def event_headline(event: TimelineEvent) -> str:
    """A sentence for kinds that carry one ("Late order recovery: granted a 5.00 EUR rebate;
    sent “Sorry about your order” by email"), else ""."""
    fields = HEADLINE_KINDS.get(event.kind)
    if not fields or not isinstance(event.payload, dict):
        return ""
    title, text = (str(event.payload.get(name) or "") for name in fields)
    return f"{title}: {text}" if title and text else title or text


def events_display(events: Iterable[TimelineEvent]) -> None:
    """Give each event of a page `actor_name`, `headline` and `facts` for the templates (one
    query for every user named on the page)."""
    events = list(events)
    names = actor_names(event.actor for event in events if event.actor)
    for event in events:
        event.actor_name = names.get(event.actor, "") if event.actor else ""
        event.headline = event_headline(event)
        shown = HEADLINE_KINDS.get(event.kind, ())
        payload = event.payload if isinstance(event.payload, dict) else {}
        event.facts = event_facts({key: value for key, value in payload.items()
                                   if key not in shown and key != "run"})
