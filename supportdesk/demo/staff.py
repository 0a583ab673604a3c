"""The demo's supervisor and agents, with their profiles, and the desk set-up they work in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models, transaction

from routing import services as routing
from routing.models import AgentProfile
from supportdesk.demo.agents import AGENTS, SENIOR_AGENTS
from supportdesk.demo.chat import demo_chat_ensure
from supportdesk.demo.common import AGENT_PASSWORD, SUPERVISOR_PASSWORD, SUPERVISOR_USERNAME, advisory_lock
from supportdesk.demo.queues import demo_routing_ensure
from supportdesk.demo.surveys import demo_surveys_ensure


@dataclass(frozen=True)
class Staff:
    """Who the demo history is attributed to: user ids by username."""

    supervisor_id: int
    agent_ids: dict[str, int]
    profile_ids: dict[str, int]  # their agent profiles' ids (routing's history names agents by them)


def demo_staff_ensure() -> Staff:
    """Create (or bring back to the demo values) the supervisor, the agents and their profiles.

    Passwords are set only when a user is created, so a rerun does not undo a change.
    """
    user_model = get_user_model()
    with transaction.atomic():
        advisory_lock()
        supervisor = _user_ensure(
            user_model, username=SUPERVISOR_USERNAME, password=SUPERVISOR_PASSWORD,
            first_name="Sam", last_name="Supervisor", is_superuser=True,
        )
        agent_ids, profile_ids = {}, {}
        for spec in AGENTS:
            user = _user_ensure(
                user_model, username=spec.username, password=AGENT_PASSWORD,
                first_name=spec.first_name, last_name=spec.last_name, is_superuser=False,
            )
            senior = spec.username in SENIOR_AGENTS
            profile_ids[spec.username] = _profile_ensure(
                user, languages=list(spec.languages), contact_kinds=list(spec.contact_kinds),
                skills=["vip", "refunds"] if senior else ["refunds"], tier=3 if senior else 1)
            agent_ids[spec.username] = user.pk
        demo_routing_ensure()
        demo_chat_ensure()
        demo_surveys_ensure()
    return Staff(supervisor_id=supervisor.pk, agent_ids=agent_ids, profile_ids=profile_ids)


def _profile_ensure(user: models.Model, **settings: Any) -> int:
    """The agent's routing settings at the demo values, through routing's own save (checked,
    audited as the system, slots rebuilt after commit); nothing written when they are. Its id."""
    profile = AgentProfile.objects.filter(user=user).first() or AgentProfile(user=user)
    if profile.pk is not None and all(getattr(profile, name) == value for name, value in settings.items()):
        return profile.pk
    for name, value in settings.items():
        setattr(profile, name, value)
    return routing.agent_settings_save(profile=profile, actor=None).pk


def _user_ensure(
    user_model: type[models.Model], *, username: str, password: str, first_name: str,
    last_name: str, is_superuser: bool,
) -> models.Model:
    wanted = {
        "first_name": first_name, "last_name": last_name, "email": f"{username}@example.com",
        # Agents work in /desk/; only the supervisor uses the admin.
        "is_staff": is_superuser, "is_superuser": is_superuser, "is_active": True,
    }
    user, created = user_model.objects.get_or_create(username=username, defaults=wanted)
    if created:
        # A demo login: set directly, the password validators are for real accounts.
        user.set_password(password)
        user.save(update_fields=["password"])
    elif any(getattr(user, name) != value for name, value in wanted.items()):
        for name, value in wanted.items():
            setattr(user, name, value)
        user.save(update_fields=list(wanted))
    return user
