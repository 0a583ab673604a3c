"""Supervisors' routing admin: every change is audited with its difference, and the dry run
shows the route and the ranked agents without writing anything."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from routing import services
from routing.models import (
    AgentProfile,
    AgentSlot,
    Queue,
    RoutingAudit,
    RoutingRule,
    RuleCondition,
    WorkItem,
    WorkItemEvent,
)
from tests.factories import UserFactory
from tests.routing.admin_forms import (
    agent_data,
    online_agent,
    queue_data,
    rule_data,
    url,
)

pytestmark = pytest.mark.django_db


# --- audit ------------------------------------------------------------------------------------------------------


def audits(model: type, object_id: Any) -> list[RoutingAudit]:
    return list(RoutingAudit.objects.filter(model=model._meta.label_lower, object_id=str(object_id))
                .order_by("id"))


def test_queue_create_change_and_delete_are_audited(admin_client, admin_user):
    admin_client.post(url(Queue, "add"), queue_data())
    queue = Queue.objects.get()
    admin_client.post(url(Queue, "change", queue.pk), queue_data(priority=70))
    admin_client.post(url(Queue, "change", queue.pk), queue_data(priority=70))  # no change: no row
    admin_client.post(url(Queue, "delete", queue.pk), {"post": "yes"})

    created, changed, deleted = audits(Queue, queue.pk)
    assert not Queue.objects.exists()
    assert [row.action for row in (created, changed, deleted)] == ["created", "changed", "deleted"]
    assert all(row.actor == admin_user and row.actor_label == admin_user.username for row in (created, changed))
    assert created.before is None and created.after["key"] == "chat.es" and created.object_repr == "chat.es"
    assert (changed.before["priority"], changed.after["priority"]) == (50, 70)
    assert deleted.before["priority"] == 70 and deleted.after is None


def test_rule_changes_are_audited_with_their_conditions(admin_client, admin_user, queues):
    admin_client.post(url(RoutingRule, "add"), rule_data([(1, "channel", "eq", "chat")]))
    rule = RoutingRule.objects.get()
    admin_client.post(url(RoutingRule, "change", rule.pk), rule_data(
        [(1, "channel", "eq", "email")], initial=list(rule.conditions.all())))
    admin_client.post(url(RoutingRule, "changelist"), {
        "form-TOTAL_FORMS": 1, "form-INITIAL_FORMS": 1, "form-MIN_NUM_FORMS": 0, "form-MAX_NUM_FORMS": 1000,
        "form-0-id": rule.pk, "form-0-position": 99, "form-0-is_active": "on", "_save": "Save",
    })
    admin_client.post(url(RoutingRule, "delete", rule.pk), {"post": "yes"})

    created, rows_added, moved, deleted = audits(RoutingRule, rule.pk)
    assert [row.action for row in (created, rows_added, moved, deleted)] == [
        "created", "changed", "changed", "deleted"]
    assert {row.actor_id for row in (created, rows_added, moved, deleted)} == {admin_user.pk}
    chat = {"group": 1, "attribute": "channel", "op": "eq", "value": "chat", "position": 0}
    assert created.after["conditions"] == [chat]
    assert created.after["condition"] == {"all": [{"any": [{k: chat[k] for k in ("attribute", "op", "value")}]}]}
    assert rows_added.before["conditions"] == [chat]
    assert [row["value"] for row in rows_added.after["conditions"]] == ["chat", "email"]
    assert (moved.before["position"], moved.after["position"]) == (10, 99)
    assert deleted.before["position"] == 99 and deleted.after is None
    assert not RuleCondition.objects.exists()


def test_agent_settings_changes_are_audited_on_both_pages(admin_client, admin_user):
    user = UserFactory(username="ana")
    admin_client.post(url(AgentProfile, "add"), agent_data(
        AgentProfile(user=user, languages=["es"], contact_kinds=["customer"])))
    profile = AgentProfile.objects.get(user=user)
    admin_client.post(url(AgentProfile, "change", profile.pk), agent_data(profile, tier=3))
    user_page = reverse("admin:auth_user_change", args=[user.pk])
    page = admin_client.get(user_page)
    assert page.status_code == 200
    data = {"username": "ana", "date_joined_0": "2026-01-01", "date_joined_1": "10:00:00",
            "agent_profile-TOTAL_FORMS": 1, "agent_profile-INITIAL_FORMS": 1,
            "agent_profile-MIN_NUM_FORMS": 0, "agent_profile-MAX_NUM_FORMS": 1,
            "agent_profile-0-id": profile.pk, "agent_profile-0-user": user.pk,
            "agent_profile-0-languages": "es,ca", "agent_profile-0-contact_kinds": "customer",
            "agent_profile-0-skills": "", "agent_profile-0-tier": 3, "agent_profile-0-capacity": '{"chat": 1}'}
    assert admin_client.post(user_page, data).status_code == 302
    admin_client.post(url(AgentProfile, "delete", profile.pk), {"post": "yes"})

    rows = audits(AgentProfile, profile.pk)
    assert [row.action for row in rows] == ["created", "changed", "changed", "deleted"]
    assert {row.actor_label for row in rows} == {admin_user.username}
    created, tiered, from_user_page, deleted = rows
    assert created.after["user"] == "ana" and created.after["languages"] == ["es"]
    assert (tiered.before["tier"], tiered.after["tier"]) == (1, 3)
    assert from_user_page.before["languages"] == ["es"] and from_user_page.after["languages"] == ["es", "ca"]
    assert from_user_page.after["capacity"] == {"chat": 1}
    assert deleted.after is None and not AgentProfile.objects.exists()


def test_the_audit_is_read_only_and_shows_the_difference(admin_client, queues):
    admin_client.post(url(Queue, "change", queues[0].pk), queue_data(name="chat.es", priority=80))
    row = RoutingAudit.objects.get()

    page = admin_client.get(url(RoutingAudit, "change", row.pk))

    assert page.status_code == 200
    content = page.content.decode()
    assert "<th>priority</th>" in content and "<th>name</th>" not in content
    assert "priority" in admin_client.get(url(RoutingAudit, "changelist")).content.decode()
    assert admin_client.get(url(RoutingAudit, "add")).status_code == 403
    assert admin_client.post(url(RoutingAudit, "delete", row.pk), {"post": "yes"}).status_code == 403
    assert RoutingAudit.objects.filter(pk=row.pk).exists()


# --- dry run ------------------------------------------------------------------------------------------


ROUTING_MODELS = (Queue, RoutingRule, RuleCondition, AgentProfile, AgentSlot, WorkItem, WorkItemEvent,
                  RoutingAudit)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in ROUTING_MODELS}


def test_the_dry_run_shows_the_rule_queue_and_ranked_agents_and_writes_nothing(admin_client):
    Queue.objects.create(key="vip.es", name="VIP ES", required_skills=["vip"])
    RoutingRule.objects.create(name="VIP Spanish", queue_key="vip.{language}", priority=9,
                               condition={"attribute": "lifetime_order_value", "op": "gte", "value": 1000})
    idle = online_agent(skills=["vip"], user=UserFactory(username="idle"))
    busy = online_agent(skills=["vip"], user=UserFactory(username="busy"))
    online_agent(user=UserFactory(username="no-vip"))
    AgentProfile.objects.filter(pk=busy.pk).update(last_assigned_at=timezone.now())
    services.agent_slots_rebuild(AgentProfile.objects.get(pk=busy.pk))
    before = counts()

    response = admin_client.get(url(RoutingRule, "dry_run"), {
        "channel": "chat", "language": "ES", "contact_kind": "customer", "lifetime_order_value": "1500",
        "priority": 0, "custom": '{"custom.segment": "b2b"}'})

    assert response.status_code == 200
    result = response.context["result"]
    assert (result["rule"], result["queue"], result["priority"]) == ("VIP Spanish", "vip.es", 9)
    assert result["required_skills"] == "vip"
    assert [agent["username"] for agent in result["agents"]] == ["idle", "busy"]
    assert result["agents"][0]["capacity"] == 2 and result["agents"][0]["load"] == 0
    assert "VIP Spanish" in response.content.decode() and idle.languages == ["es"]
    assert counts() == before


def test_the_dry_run_without_a_matching_rule_names_the_default_queue_and_still_writes_nothing(admin_client):
    before = counts()

    response = admin_client.get(url(RoutingRule, "dry_run"), {"channel": "email", "contact_kind": "courier",
                                                              "priority": 3})

    assert response.status_code == 200
    assert response.context["result"]["rule"] == ""
    assert response.context["result"]["queue"] == "general"
    assert "no rule: default queue" in response.content.decode()
    assert counts() == before  # not even the default queue it had to make up


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"channel": "fax"}, "channel", "Select a valid choice"),
    ({"custom": '{"vip": true}'}, "custom", "Unknown attribute vip"),
    ({"custom": '{"custom.vip": tru'}, "custom", "Not valid JSON"),
    ({"custom": "[1, 2]"}, "custom", "Give a JSON object"),
    ({"lifetime_order_value": "lots"}, "lifetime_order_value", "Enter a number"),
    ({"priority": "high"}, "priority", "Enter a whole number"),
    ({"contact_kind": "robot"}, "contact_kind", "Select a valid choice"),
])
def test_bad_dry_run_input_is_a_form_error(admin_client, fields, field, message):
    before = counts()

    response = admin_client.get(url(RoutingRule, "dry_run"), {"channel": "chat", "priority": 0, **fields})

    assert response.status_code == 200 and response.context["result"] is None
    errors = response.context["form"].errors
    assert any(message in error for error in errors[field]), errors
    assert counts() == before


def test_the_dry_run_is_for_staff_and_linked_from_the_rule_list(client, admin_client):
    assert client.get(url(RoutingRule, "dry_run")).status_code == 302  # to the login page
    page = admin_client.get(url(RoutingRule, "changelist"))
    assert url(RoutingRule, "dry_run") in page.content.decode()
    assert admin_client.get(url(RoutingRule, "dry_run")).status_code == 200
