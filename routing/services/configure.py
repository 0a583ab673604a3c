"""Supervisors' changes to routing: saving a queue, a rule or an agent's settings (checked,
written, audited), and what follows once they commit (waiting items take a queue's new
needs, an agent's slots are rebuilt, every process reads the configuration afresh)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from routing.audit import AGENT_SETTINGS, audit_record, routing_snapshot
from routing.models import (
    CHANNELS,
    CONTACT_KINDS,
    HELD_STATES,
    AgentProfile,
    ItemState,
    Queue,
    RoutingRule,
    RuleCondition,
    WorkItem,
)
from routing.rules import (
    ConditionRow,
    condition_assemble,
    queue_key_errors,
    row_condition_errors,
    rule_condition_errors,
    rule_condition_rebuild,
)
from routing.services import claims, config, events, matching, sla
from supportdesk.errors import DomainError


def agent_settings_changed(*, profile_id: int) -> None:
    """After a supervisor edits an agent's languages, kinds, skills, tier or capacity:
    rebuild the slots and let the agent take waiting work that now fits."""
    with transaction.atomic(), events.unit_of_work():
        list(WorkItem.objects.select_for_update(of=("self",))
             .filter(agent_id=profile_id, state__in=HELD_STATES).values_list("id", flat=True))
        profile = claims.agent_lock(profile_id, skip_locked=False)
        if profile is None:
            return
        claims.agent_slots_rebuild(profile)
        matching.agent_pull(profile, now=timezone.now())


def queue_changed(*, queue_id: int) -> None:
    """After a supervisor edits a queue: its waiting items take its new priority, tier and
    skills (on top of what their rule added), and its open items their service-level
    deadlines in its (new) business hours, or calendar time without."""
    queue = Queue.objects.filter(pk=queue_id).first()
    if queue is None:
        return
    table = connection.ops.quote_name(WorkItem._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {table} SET queue_priority = %(priority)s, min_agent_tier = %(tier)s,
                required_skills = ARRAY(SELECT DISTINCT s FROM unnest(
                    array_cat(rule_required_skills, %(required)s::varchar[])) s ORDER BY s),
                optional_skills = ARRAY(SELECT DISTINCT s FROM unnest(
                    array_cat(rule_optional_skills, %(optional)s::varchar[])) s
                    WHERE s <> ALL(array_cat(rule_required_skills, %(required)s::varchar[])) ORDER BY s)
            WHERE queue_id = %(queue)s AND state = %(waiting)s""",
            {"priority": queue.priority, "tier": queue.min_agent_tier,
             "required": sorted(queue.required_skills), "optional": sorted(queue.optional_skills),
             "queue": queue_id, "waiting": ItemState.WAITING},
        )
    sla.deadlines_refresh(queue_ids=[queue_id])


# --- supervisors' saves: validate, write, audit, rebuild after commit ----------------------


_READ = object()  # rule_save reads the audit's "before" itself


class ConfigInvalid(DomainError):
    """A queue, rule or agent's settings that would break routing: `errors` maps a field
    name (None: the whole object) to its messages, so a form shows each on its field."""

    def __init__(self, errors: Mapping[str | None, list[str]]) -> None:
        self.errors = {field: list(messages) for field, messages in errors.items() if messages}
        first = next(iter(self.errors.values()))[0]
        super().__init__(first, code="invalid_config")


def _raise_if(errors: Mapping[str | None, list[str]]) -> None:
    if any(errors.values()):
        raise ConfigInvalid(errors)


def queue_errors(*, queue: Queue) -> dict[str | None, list[str]]:
    """What is wrong with the queue as it would be saved (its values set, not yet written)."""
    errors: dict[str | None, list[str]] = {}
    key = queue.key or ""
    if any(char.isspace() for char in key):
        errors.setdefault("key", []).append(_("A queue key has no spaces: use dots, dashes or underscores "
                                              "(chat.es, vip-refunds)."))
    if "{" in key or "}" in key:
        errors.setdefault("key", []).append(
            _("Braces belong in rules' queue key templates, not in a queue's key."))
    previous_key = Queue.objects.filter(pk=queue.pk).values_list("key", flat=True).first() if queue.pk else None
    if previous_key is not None and key != previous_key:
        rules = list(RoutingRule.objects.filter(queue_key=previous_key).values_list("name", flat=True))
        if rules:
            errors.setdefault("key", []).append(
                _("Rules route to %(key)r (%(rules)s): point them elsewhere first.")
                % {"key": previous_key, "rules": ", ".join(rules)})
    overflow, after = queue.overflow_queue_id, queue.overflow_after_seconds
    if overflow is not None and queue.pk:
        seen, target = {queue.pk}, queue.overflow_queue
        while target is not None:
            if target.pk in seen:
                # Items would move round the loop for ever.
                errors.setdefault("overflow_queue", []).append(
                    _("A queue cannot overflow into itself, directly or through other queues' overflow."))
                break
            seen.add(target.pk)
            target = target.overflow_queue
    if overflow is not None and after is None:
        errors.setdefault("overflow_after_seconds", []).append(
            _("Say after how long items move to the overflow queue."))
    if after is not None and overflow is None:
        errors.setdefault("overflow_queue", []).append(
            _("Pick the queue items overflow into, or leave the wait empty."))
    return errors


def queue_save(*, queue: Queue, actor: Any) -> Queue:
    """Create or change a queue: checked (ConfigInvalid), written, audited; after commit its
    waiting items take its new priority, tier and skills, and every process's routing
    configuration is read afresh."""
    queue.key = (queue.key or "").strip().lower()
    _raise_if(queue_errors(queue=queue))
    _model_check(queue)
    with transaction.atomic():
        previous = Queue.objects.select_for_update().filter(pk=queue.pk).first() if queue.pk else None
        before = routing_snapshot(previous) if previous is not None else None
        queue.save()
        audit_record(actor=actor, obj=queue, instance_before=before, instance_after=routing_snapshot(queue))
        queue_id = queue.pk
        transaction.on_commit(lambda: queue_changed(queue_id=queue_id))
        transaction.on_commit(config.routing_config_forget)
    return queue


def rule_errors(*, rule: RoutingRule, rows: Iterable[ConditionRow] | None = None) -> dict[str | None, list[str]]:
    """What is wrong with the rule (and the condition rows it would have, when given)."""
    errors: dict[str | None, list[str]] = {}
    name = (rule.name or "").strip()
    if RoutingRule.objects.filter(name__iexact=name).exclude(pk=rule.pk).exists():
        # Items record the rule that routed them by name, and the router tells rules apart by it.
        errors["name"] = [_("Another rule is called %(name)r: give this one a name of its own.") % {"name": name}]
    key_errors = queue_key_errors((rule.queue_key or "").strip().lower())
    if key_errors:
        errors["queue_key"] = key_errors
    if rows is not None:
        rows = list(rows)
        for row in rows:
            for field, messages in row_condition_errors(row).items():
                errors.setdefault(None if field is None else f"condition.{field}", []).extend(messages)
        if not any(errors.values()):
            condition = rule_condition_errors(condition_assemble(rows))
            if condition:
                errors[None] = condition
    return errors


def rule_save(*, rule: RoutingRule, actor: Any, rows: Iterable[ConditionRow] | None = None,
              rebuild: bool | None = None, before: Mapping[str, Any] | None | object = _READ) -> RoutingRule:
    """Create or change a rule: checked (ConfigInvalid), written, its condition assembled
    from its rows, audited; every process's routing configuration is read afresh after
    commit. `rows` replaces its condition rows; without them the rows already written are
    kept (the admin's inline wrote them) and the condition assembled from them when
    `rebuild` (by default: a new rule). `before` is the audit's "before" when the caller
    read it (the admin, before its inline changed the rows); by default it is read here."""
    rule.name = (rule.name or "").strip()
    rule.queue_key = (rule.queue_key or "").strip().lower()
    rows = list(rows) if rows is not None else None
    _raise_if(rule_errors(rule=rule, rows=rows))
    _model_check(rule, exclude=["condition"])
    with transaction.atomic():
        previous = RoutingRule.objects.select_for_update().filter(pk=rule.pk).first() if rule.pk else None
        if before is _READ:
            before = routing_snapshot(previous) if previous is not None else None
        created = previous is None
        rule.save()
        if rows is not None:
            rule.conditions.all().delete()
            RuleCondition.objects.bulk_create([
                RuleCondition(rule=rule, group=row.group, attribute=row.attribute, op=row.op, value=row.value,
                              position=position) for position, row in enumerate(rows)])
        if rows is not None or (created if rebuild is None else rebuild):
            rule_condition_rebuild(rule)
        audit_record(actor=actor, obj=rule, instance_before=before, instance_after=routing_snapshot(rule))
        transaction.on_commit(config.routing_config_forget)
    return rule


def capacity_errors(capacity: Any) -> list[str]:
    if not isinstance(capacity, dict):
        return [_('Capacity is an object of channel to open items, e.g. {"chat": 3, "email": 5}.')]
    errors = []
    unknown = sorted(set(capacity) - set(CHANNELS))
    if unknown:
        errors.append(_("Unknown channel %(unknown)s; use %(channels)s.")
                      % {"unknown": ", ".join(unknown), "channels": ", ".join(CHANNELS)})
    for channel, count in capacity.items():
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            errors.append(_("Capacity for %(channel)s must be a whole number of 0 or more, not %(count)r.")
                          % {"channel": channel, "count": count})
    return errors


def agent_settings_errors(*, profile: AgentProfile) -> dict[str | None, list[str]]:
    errors: dict[str | None, list[str]] = {}
    unknown = [kind for kind in profile.contact_kinds if kind not in CONTACT_KINDS]
    if unknown:
        errors["contact_kinds"] = [_("Unknown contact kind %(unknown)s; use %(kinds)s.")
                                   % {"unknown": ", ".join(unknown), "kinds": ", ".join(CONTACT_KINDS)}]
    capacity = capacity_errors(profile.capacity)
    if capacity:
        errors["capacity"] = capacity
    return errors


def agent_settings_save(*, profile: AgentProfile, actor: Any) -> AgentProfile:
    """Create an agent's profile or change their routing settings (languages, contact kinds,
    skills, tier, capacity): checked (ConfigInvalid), written, audited; after commit their
    slots are rebuilt and they take waiting work that now fits. A change writes only the
    settings, never undoing presence or assignment times the services changed meanwhile."""
    _raise_if(agent_settings_errors(profile=profile))
    _model_check(profile, exclude=["user"])
    with transaction.atomic():
        previous = AgentProfile.objects.filter(pk=profile.pk).first() if profile.pk else None
        before = routing_snapshot(previous) if previous is not None else None
        if previous is None:
            profile.save()
        else:
            profile.save(update_fields=[*AGENT_SETTINGS, "updated_at"])
        audit_record(actor=actor, obj=profile, instance_before=before, instance_after=routing_snapshot(profile))
        agent_settings_changed_on_commit(profile.pk)
    return profile


def agent_settings_changed_on_commit(profile_id: int) -> None:
    # After commit, in a transaction of its own: the rebuild locks the agent's items before
    # the agent, the order every routing path takes, which a save's own row lock on the
    # agent would reverse.
    transaction.on_commit(lambda: agent_settings_changed(profile_id=profile_id))


def _model_check(obj: Any, *, exclude: list[str] | None = None) -> None:
    """The model's own validators (ranges, required fields), as ConfigInvalid."""
    try:
        obj.full_clean(exclude=exclude, validate_unique=True, validate_constraints=True)
    except ValidationError as exc:
        raise ConfigInvalid({None if field == NON_FIELD_ERRORS else field: list(messages)
                             for field, messages in exc.message_dict.items()}) from None
