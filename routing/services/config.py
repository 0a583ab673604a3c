"""The routing configuration as a decision reads it: the attributes rules may test, the
active rules and queues (cached per process), and the route they give an item."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction

from routing import engine
from routing.models import (
    CHANNELS,
    CONTACT_KINDS,
    Queue,
    RoutingRule,
)
from supportdesk.conditions import condition_errors
from supportdesk.errors import DomainError

log = logging.getLogger(__name__)

# Attributes rules may test. Anything else a caller knows goes under "custom.<name>".
ATTRIBUTES = ("channel", "language", "contact_kind", "lifetime_order_value", "tier", "country",
              "contact_reason", "priority", "last_rating", "rating_avg_90d")
CUSTOM_PREFIX = "custom."
CANDIDATES = 8  # agents (or items) read per attempt; a few more than one covers lock races


def attribute_known(name: str) -> bool:
    return name in ATTRIBUTES or (name.startswith(CUSTOM_PREFIX) and len(name) > len(CUSTOM_PREFIX))



def rules_load() -> list[engine.Rule]:
    """The active rules in order. One that is invalid (written around the admin's checks)
    is skipped and logged, so it cannot stop routing for everyone."""
    rules = []
    for rule in RoutingRule.objects.filter(is_active=True).order_by("position", "id"):
        condition = rule.condition or {"all": []}
        errors = condition_errors(condition, attributes=None)
        errors += [f"unknown attribute {name!r}" for name in _condition_attributes(condition)
                   if not attribute_known(name)]
        if errors:
            log.error("Routing rule %s (%s) skipped: %s", rule.pk, rule.name, " ".join(errors))
            continue
        rules.append(engine.Rule(
            name=rule.name, condition=condition, queue_key=rule.queue_key, priority=rule.priority,
            skills=frozenset(rule.required_skills), optional_skills=frozenset(rule.optional_skills)))
    return rules


def _condition_attributes(condition: Mapping[str, Any]) -> list[str]:
    for group in ("all", "any"):
        if group in condition:
            return [name for part in condition[group] for name in _condition_attributes(part)]
    return [condition["attribute"]]


def default_queue(*, create: bool = True) -> Queue:
    """The queue for items no rule routes; a dry run (create=False) gets an unsaved one
    rather than writing."""
    if not create:
        queue = Queue.objects.filter(key=settings.ROUTING_DEFAULT_QUEUE).first()
        return queue or Queue(key=settings.ROUTING_DEFAULT_QUEUE, name="General")
    queue, _ = Queue.objects.get_or_create(
        key=settings.ROUTING_DEFAULT_QUEUE, defaults={"name": "General"}
    )
    return queue


def attributes_normalise(*, channel: str, attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    if channel not in CHANNELS:
        raise DomainError(f"Unknown channel {channel!r}; use one of {', '.join(CHANNELS)}.",
                          code="unknown_channel")
    if attributes is not None and not isinstance(attributes, Mapping):
        raise DomainError("Attributes must be an object.", code="invalid_attributes")
    values = {str(key): value for key, value in (attributes or {}).items()}
    if any("\x00" in text for key, value in values.items() for text in (key, value) if isinstance(text, str)):
        raise DomainError("Attributes cannot contain NUL characters.", code="invalid_attributes")
    unknown = sorted(key for key in values if not attribute_known(key))
    if unknown:
        raise DomainError(
            f"Unknown attribute {', '.join(unknown)}; use {', '.join(ATTRIBUTES)} or "
            f"{CUSTOM_PREFIX}<name>.", code="unknown_attribute",
        )
    values["channel"] = channel
    values["language"] = str(values.get("language") or settings.ROUTING_DEFAULT_LANGUAGE).strip().lower()
    kind = str(values.get("contact_kind") or "customer").strip().lower()
    if kind not in CONTACT_KINDS:
        raise DomainError(f"Unknown contact kind {kind!r}; use one of {', '.join(CONTACT_KINDS)}.",
                          code="unknown_contact_kind")
    values["contact_kind"] = kind
    if isinstance(values.get("lifetime_order_value"), Decimal):
        values["lifetime_order_value"] = str(values["lifetime_order_value"])  # JSON-safe, exact
    return values


@dataclass(frozen=True)
class Route:
    rule: str  # "" when no rule matched and the default queue took it
    queue: Queue
    priority: int
    required_skills: frozenset[str]  # the rule's and the queue's
    optional_skills: frozenset[str]
    rule_required_skills: frozenset[str] = frozenset()  # the rule's alone
    rule_optional_skills: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RoutingConfig:
    rules: list[engine.Rule]
    queues: dict[str, Queue]  # the active ones, by key
    loaded_at: float


_config: RoutingConfig | None = None


def routing_config(*, fresh: bool = False) -> RoutingConfig:
    """The rules and active queues, read at most every ROUTING_CONFIG_SECONDS per process.

    Every decision needs them and supervisors change them rarely: saving a queue, a rule or
    its conditions clears this process's copy at once (routing.apps), other processes see
    the change within the interval.
    """
    global _config
    config = _config
    now = time.monotonic()
    if fresh or config is None or now - config.loaded_at >= settings.ROUTING_CONFIG_SECONDS:
        config = RoutingConfig(rules=rules_load(),
                               queues={q.key: q for q in Queue.objects.filter(is_active=True)},
                               loaded_at=now)
        _config = config
    return config


def routing_config_clear(**_: Any) -> None:
    routing_config_forget()
    if transaction.get_connection().in_atomic_block:
        # Another thread may read the old rows again before this save commits.
        transaction.on_commit(routing_config_forget)


def routing_config_forget() -> None:
    """Drop this process's copy: the next decision reads the rules and queues again."""
    global _config
    _config = None


def route_find(*, attributes: Mapping[str, Any], priority: int = 0, write: bool = True,
               fresh: bool | None = None) -> Route:
    """Which queue, priority and skills the rules give these (normalised) attributes.

    A rule whose templated queue does not exist (chat.{language} for a language without a
    queue) is passed over; when no rule routes the item, the default queue takes it. A dry
    run (write=False) reads the configuration fresh, unless `fresh=False` (a preview asked
    often, such as the widget's), and writes nothing.
    """
    config = routing_config(fresh=not write if fresh is None else fresh)
    for rule in config.rules:
        match = engine.rule_match([rule], attributes)
        if match is None:
            continue
        queue = config.queues.get(match.queue_key)
        if queue is not None:
            return Route(
                rule=match.rule, queue=queue,
                priority=priority if match.priority is None else match.priority,
                required_skills=match.skills | frozenset(queue.required_skills),
                optional_skills=match.optional_skills | frozenset(queue.optional_skills),
                rule_required_skills=match.skills, rule_optional_skills=match.optional_skills,
            )
    queue = default_queue(create=write)
    return Route(rule="", queue=queue, priority=priority, required_skills=frozenset(queue.required_skills),
                 optional_skills=frozenset(queue.optional_skills))
