"""What the routing admin tests share: admin URLs, form data and errors as the admin shows them."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from routing import services
from routing.models import AgentProfile, Presence, RuleCondition
from tests.factories import AgentProfileFactory


def url(model: type, view: str, *args: Any) -> str:
    return reverse(f"admin:routing_{model._meta.model_name}_{view}", args=args)


def form_errors(response) -> dict[str, list[str]]:
    assert response.status_code == 200, "a valid form redirects; an invalid one shows the page again"
    return {name: list(errors) for name, errors in response.context["adminform"].form.errors.items()}


def queue_data(**fields: Any) -> dict[str, Any]:
    data = {
        "key": "chat.es", "name": "Chat ES", "priority": 50, "strategy": "longest_idle",
        "target_wait_seconds": 60, "required_skills": "", "optional_skills": "",
        "relax_optional_after_seconds": "", "min_agent_tier": 1, "offer_timeout_seconds": 30,
        "new_email_while_open": "join",
        "escalate_at_percent": 80, "escalation_priority_boost": 10, "overflow_queue": "",
        "overflow_after_seconds": "", "is_active": "on",
    }
    data.update(fields)
    return {name: value for name, value in data.items() if value is not None}


def rule_data(conditions: list[tuple] = (), *, initial: list[RuleCondition] = (), **fields: Any) -> dict[str, Any]:
    """A rule form with its condition rows: the saved rows in `initial` as they are, then
    new rows, (group, attribute, op, value) each."""
    data = {"name": "Spanish chat", "position": 10, "is_active": "on", "queue_key": "chat.{language}",
            "priority": "", "required_skills": "", "optional_skills": ""}
    data.update(fields)
    rows = [(row.group, row.attribute, row.op, row.value, row.position, row.pk) for row in initial]
    rows += [(*row, len(initial) + index, "") for index, row in enumerate(conditions)]
    data.update({"conditions-TOTAL_FORMS": len(rows), "conditions-INITIAL_FORMS": len(initial),
                 "conditions-MIN_NUM_FORMS": 0, "conditions-MAX_NUM_FORMS": 1000})
    for index, (group, attribute, op, value, position, pk) in enumerate(rows):
        data.update({f"conditions-{index}-group": group, f"conditions-{index}-attribute": attribute,
                     f"conditions-{index}-op": op, f"conditions-{index}-value": value,
                     f"conditions-{index}-position": position, f"conditions-{index}-id": pk,
                     f"conditions-{index}-rule": fields.get("rule", "")})
    return data


def agent_data(profile: AgentProfile, **fields: Any) -> dict[str, Any]:
    data = {"user": profile.user_id, "languages": ",".join(profile.languages),
            "contact_kinds": ",".join(profile.contact_kinds), "skills": ",".join(profile.skills),
            "tier": profile.tier, "capacity": '{"chat": 2, "messaging": 2, "email": 5, "voice": 1}'}
    data.update(fields)
    return data


def online_agent(**fields: Any) -> AgentProfile:
    defaults = {"languages": ["es"], "contact_kinds": ["customer"],
                "capacity": {"chat": 2, "messaging": 2, "email": 5, "voice": 1}}
    profile = AgentProfileFactory(**{**defaults, **fields})
    return services.presence_set(user=profile.user, presence=Presence.ONLINE)


def non_field_errors(response) -> list[str]:
    return list(response.context["adminform"].form.non_field_errors())


def inline_errors(response) -> tuple[list[str], list[dict]]:
    """The condition rows' errors: for the rows together, and for each row by field."""
    formset = response.context["inline_admin_formsets"][0].formset
    return list(formset.non_form_errors()), [dict(form.errors) for form in formset.forms]
