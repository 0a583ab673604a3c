"""A workflow's definition (draft or published) as plain data: what its trigger listens to,
which scopes its conditions and templates may use, its run key, and what is wrong with it.

    {"trigger": {"type": "event", "kinds": ["order.delayed"]},
     "conditions": {"all": [...]},
     "steps": [{"action": "send_message", "params": {...}}, ...],
     "run_key": "{workflow}:{order}",          # "" : one run per workflow and subject
     "limit": {"count": 1, "days": 7},         # per contact; null: no limit
     "max_depth": null}                         # chain depth; null: WORKFLOWS_MAX_CHAIN_DEPTH

Pure: no database (the registries are in-process).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from conversations.models import MESSAGE_RECEIVED
from supportdesk.conditions import ConditionError, template_fields
from timeline import events as timeline_events
from workflows import attributes, registry
from workflows.templates import allowed_variables, template_errors

EVENT, TIMER, SCHEDULE = "event", "timer", "schedule"
TIMER_ANCHORS = ("order.promised_at",)  # times on the record a timer can count from
RUN_KEY_FIELDS = ("workflow", "contact", "subject", "order", "conversation", "event", "message", "fired")
MAX_STEPS = 30
MAX_TIMER_MINUTES = 60 * 24 * 90


@dataclass(frozen=True)
class Definition:
    trigger: dict[str, Any]
    conditions: dict[str, Any] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)
    run_key: str = ""
    limit_count: int | None = None
    limit_days: int | None = None
    max_depth: int | None = None

    @property
    def trigger_type(self) -> str:
        return self.trigger.get("type", "")

    @property
    def event_kinds(self) -> list[str]:
        kinds = self.trigger.get("kinds") or []
        return sorted({kind for kind in kinds if isinstance(kind, str)})

    @property
    def scopes(self) -> list[str]:
        return trigger_scopes(self.trigger)


def definition_from(data: Mapping[str, Any]) -> Definition:
    """A Definition from the JSON shape above (call `definition_errors` first)."""
    limit = data.get("limit") or {}
    return Definition(
        trigger=dict(data.get("trigger") or {}), conditions=dict(data.get("conditions") or {}),
        steps=[dict(step) for step in data.get("steps") or []], run_key=data.get("run_key") or "",
        limit_count=limit.get("count"), limit_days=limit.get("days"), max_depth=data.get("max_depth"),
    )


def definition_of(version: Any) -> Definition:
    """The Definition of a stored WorkflowVersion."""
    return Definition(trigger=version.trigger, conditions=version.conditions or {},
                      steps=version.steps or [], run_key=version.run_key,
                      limit_count=version.limit_count, limit_days=version.limit_days,
                      max_depth=version.max_depth)


MESSAGE = "message"  # the template variables of a received message (workflows.templates.VARIABLES)


def known_kinds() -> frozenset[str]:
    """The event kinds a trigger may listen to: the timeline's, and "message.received"
    (inbound messages reach workflows through the conversations' outbox stream, not the
    timeline: there are too many of them)."""
    return timeline_events.known_kinds() | {MESSAGE_RECEIVED}


def kind_scopes(kind: str) -> list[str]:
    """The scopes an event of this timeline kind provides (its subject's and the contact's)."""
    if kind.startswith("order."):
        return [attributes.CONTACT, attributes.ORDER]
    if kind.startswith(("conversation.", "routing.", "rating.", "message.")):
        return [attributes.CONTACT, attributes.CONVERSATION]
    return [attributes.CONTACT]


def trigger_scopes(trigger: Mapping[str, Any]) -> list[str]:
    if trigger.get("type") == SCHEDULE:
        return [attributes.CONTACT]
    if trigger.get("type") == TIMER and trigger.get("at") in TIMER_ANCHORS:
        return [attributes.CONTACT, attributes.ORDER]
    kinds = [kind for kind in trigger.get("kinds") or [] if isinstance(kind, str)]
    if not kinds:
        return [attributes.CONTACT]
    # Only what every kind provides: a condition on the order fails on a contact event.
    common = set(kind_scopes(kinds[0]))
    for kind in kinds[1:]:
        common &= set(kind_scopes(kind))
    scopes = [scope for scope in attributes.SCOPES if scope in common]
    if all(kind == MESSAGE_RECEIVED for kind in kinds):
        scopes.append(MESSAGE)  # its templates may quote the message
    return scopes


def definition_errors(data: Any, *, known_kinds: frozenset[str] | None = None) -> list[str]:
    """Everything wrong with a definition, as messages a supervisor can act on; [] if valid."""
    if not isinstance(data, Mapping):
        return [_("A workflow definition is an object with a trigger, conditions and steps.")]
    errors = _trigger_errors(data.get("trigger"), known_kinds)
    trigger = data.get("trigger") if isinstance(data.get("trigger"), Mapping) else {}
    scopes = trigger_scopes(trigger)
    errors += attributes.condition_errors(data.get("conditions") or {}, scopes)
    errors += _steps_errors(data.get("steps"), scopes)
    errors += _run_key_errors(data.get("run_key") or "")
    limit = data.get("limit")
    if limit not in (None, {}):
        if not isinstance(limit, Mapping) or not all(
                isinstance(limit.get(name), int) and not isinstance(limit.get(name), bool)
                and 1 <= limit[name] <= 3650 for name in ("count", "days")):
            errors.append(_("limit: give a count and a number of days, whole numbers from 1, "
                            'e.g. {"count": 1, "days": 7}.'))
    depth = data.get("max_depth")
    if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool) or not 0 <= depth <= 10):
        errors.append(_("max_depth: a whole number from 0 to 10, or empty for the default."))
    return errors


def _trigger_errors(trigger: Any, known_kinds: frozenset[str] | None) -> list[str]:
    if not isinstance(trigger, Mapping):
        return [_("trigger: say when the workflow starts (an event, a timer or a schedule).")]
    kind = trigger.get("type")
    if kind not in (EVENT, TIMER, SCHEDULE):
        return [_("trigger.type: %(type)r is not one of event, timer, schedule.") % {"type": kind}]
    errors = []
    if kind in (EVENT, TIMER):
        kinds = trigger.get("kinds")
        if not isinstance(kinds, list) or not kinds or not all(isinstance(k, str) for k in kinds):
            errors.append(_("trigger.kinds: list the timeline events that start it, e.g. order.delayed."))
        elif known_kinds is not None and (unknown := sorted(set(kinds) - known_kinds)):
            errors.append(_("trigger.kinds: unknown events %(kinds)s.") % {"kinds": ", ".join(unknown)})
    if kind == TIMER and isinstance(trigger.get("kinds"), list) and MESSAGE_RECEIVED in trigger["kinds"]:
        errors.append(_("trigger.kinds: a timer cannot count from message.received; use an event trigger."))
    if kind == TIMER:
        minutes = trigger.get("minutes")
        if not isinstance(minutes, int | float) or isinstance(minutes, bool) \
                or not -MAX_TIMER_MINUTES <= minutes <= MAX_TIMER_MINUTES:
            errors.append(_("trigger.minutes: how many minutes after the event or the time, e.g. 15."))
        elif minutes < 0 and trigger.get("at") is None:
            errors.append(_("trigger.minutes: a timer after an event cannot fire before it."))
        anchor = trigger.get("at")
        if anchor is not None and anchor not in TIMER_ANCHORS:
            errors.append(_("trigger.at: %(at)r is not a time on the record; use one of %(anchors)s.")
                          % {"at": anchor, "anchors": ", ".join(TIMER_ANCHORS)})
        elif anchor is not None and isinstance(trigger.get("kinds"), list) and not all(
                isinstance(k, str) and k.startswith("order.") for k in trigger["kinds"]):
            errors.append(_("trigger.kinds: a timer on order.promised_at listens to order events only."))
    if kind == SCHEDULE:
        from croniter import croniter  # noqa: PLC0415 (a heavy import the admin's form needs alone)

        cron = trigger.get("cron")
        if not isinstance(cron, str) or not croniter.is_valid(cron):
            errors.append(_("trigger.cron: %(cron)r is not a cron expression such as "
                            "\"0 9 * * 1\" (Mondays at 9:00).") % {"cron": cron})
        segment = trigger.get("segment")
        if not isinstance(segment, int) or isinstance(segment, bool) or segment < 1:
            errors.append(_("trigger.segment: name the segment (its id) the schedule runs over."))
        tz = trigger.get("timezone", "UTC")
        try:
            import zoneinfo  # noqa: PLC0415

            zoneinfo.ZoneInfo(str(tz))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            errors.append(_("trigger.timezone: %(tz)r is not a time zone such as Europe/Madrid.") % {"tz": tz})
    return errors


def _steps_errors(steps: Any, scopes: list[str]) -> list[str]:
    if not isinstance(steps, list) or not steps:
        return [_("steps: give at least one step.")]
    if len(steps) > MAX_STEPS:
        return [_("steps: at most %(n)s steps.") % {"n": MAX_STEPS}]
    known = registry.actions()
    errors = []
    for position, step in enumerate(steps, start=1):
        where = _("step %(n)s") % {"n": position}
        if not isinstance(step, Mapping) or set(step) - {"action", "params"}:
            errors.append(_("%(where)s: give an action and its params.") % {"where": where})
            continue
        action = known.get(step.get("action"))
        if action is None:
            errors.append(_("%(where)s: unknown action %(action)r; use one of %(known)s.")
                          % {"where": where, "action": step.get("action"), "known": ", ".join(sorted(known))})
            continue
        params = step.get("params") or {}
        if not isinstance(params, Mapping):
            errors.append(_("%(where)s: params must be an object.") % {"where": where})
            continue
        errors += [f"{where} ({action.name}): {error}" for error in action.params_errors(params)]
        if "template" in params:
            errors += [f"{where} ({action.name}): {error}"
                       for error in template_errors(params["template"], allowed_variables(scopes))]
        if "condition" in params:
            errors += [f"{where} ({action.name}): {error}"
                       for error in attributes.condition_errors(params["condition"], scopes)]
    return errors


def _run_key_errors(template: Any) -> list[str]:
    if not isinstance(template, str) or len(template) > 200:
        return [_("run_key: a short text such as {workflow}:{order}.")]
    if not template:
        return []
    try:
        names = template_fields(template)
    except ConditionError as error:
        return [f"run_key: {error}"]
    unknown = sorted(set(names) - set(RUN_KEY_FIELDS))
    if unknown:
        return [_("run_key: unknown fields %(fields)s; use %(known)s.")
                % {"fields": ", ".join(unknown), "known": ", ".join(f"{{{name}}}" for name in RUN_KEY_FIELDS)}]
    return []


def run_key_render(template: str, *, workflow_id: int, contact_id: int, subject_type: str,
                   subject_id: int | None, fired: str = "", event: int | None = None,
                   message: int | None = None) -> str:
    """The run key of one run: the template filled, or "<workflow>:<subject>" by default."""
    subject = (f"{subject_type}:{subject_id}" if subject_type and subject_id is not None
               else f"contact:{contact_id}")
    values = {"workflow": workflow_id, "contact": contact_id, "subject": subject,
              "order": subject_id if subject_type == "order" else "",
              "conversation": subject_id if subject_type == "conversation" else "", "fired": fired,
              "event": event if event is not None else "",
              "message": message if message is not None else ""}  # a received message's id
    if not template:
        key = f"{workflow_id}:{subject}"
        return f"{key}:{fired}" if fired else key
    return string.Formatter().vformat(template, (), values)[:255]
