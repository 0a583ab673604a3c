"""Supervisors' routing admin: queue, rule and agent forms refuse what would break routing,
saves reach the router (conditions assembled, slots rebuilt, waiting items re-prioritised),
every change is audited, and the dry run shows the route without writing anything."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from routing import services
from routing.models import (
    AgentProfile,
    AgentSlot,
    ItemState,
    Presence,
    Queue,
    RoutingAudit,
    RoutingRule,
    RuleCondition,
    WorkItem,
    WorkItemEvent,
)
from tests.factories import AgentProfileFactory, UserFactory

pytestmark = pytest.mark.django_db


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


# --- queues ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"priority": 0}, "priority", "Priority is 1-100."),
    ({"priority": 101}, "priority", "Priority is 1-100."),
    ({"key": "chat es"}, "key", "no spaces"),
    ({"key": "chat.{language}"}, "key", "Braces"),
    ({"overflow_after_seconds": 120}, "overflow_queue", "Pick the queue items overflow into"),
])
def test_a_bad_queue_is_a_form_error_and_nothing_is_saved(admin_client, fields, field, message):
    response = admin_client.post(url(Queue, "add"), queue_data(**fields))

    errors = form_errors(response)
    assert any(message in error for error in errors[field]), errors
    assert not Queue.objects.exists()


def test_an_overflow_queue_needs_a_wait_and_cannot_be_the_queue_itself(admin_client):
    spill = Queue.objects.create(key="spill", name="Spill")
    queue = Queue.objects.create(key="chat.es", name="Chat ES", overflow_queue=spill, overflow_after_seconds=60)

    no_wait = admin_client.post(url(Queue, "add"), queue_data(key="chat.ca", overflow_queue=spill.pk))
    itself = admin_client.post(url(Queue, "change", queue.pk),
                               queue_data(overflow_queue=queue.pk, overflow_after_seconds=60))
    loop = admin_client.post(url(Queue, "change", spill.pk),
                             queue_data(key="spill", overflow_queue=queue.pk, overflow_after_seconds=60))

    assert "Say after how long" in form_errors(no_wait)["overflow_after_seconds"][0]
    assert form_errors(itself)["overflow_queue"]  # not even a choice: the queue is left out
    assert "cannot overflow into itself" in form_errors(loop)["overflow_queue"][0]
    spill.refresh_from_db()
    assert spill.overflow_queue is None and Queue.objects.count() == 2


def test_a_queue_key_is_normalised_and_a_saved_queue_reprioritises_its_waiting_items(
        admin_client, django_capture_on_commit_callbacks):
    response = admin_client.post(url(Queue, "add"),
                                 queue_data(key="  Chat.ES ", required_skills="Refunds, VIP,vip"))
    assert response.status_code == 302
    queue = Queue.objects.get()
    assert queue.key == "chat.es" and queue.required_skills == ["refunds", "vip"]
    item = services.work_item_enqueue(conversation_id=1, channel="chat", attributes={"language": "es"})
    RoutingRule.objects.create(name="chat", queue_key="chat.es")
    WorkItem.objects.filter(pk=item.pk).update(queue=queue, queue_priority=queue.priority)

    WorkItem.objects.filter(pk=item.pk).update(required_skills=["refunds", "vip"])

    with django_capture_on_commit_callbacks(execute=True):  # the waiting items follow after commit
        admin_client.post(url(Queue, "change", queue.pk),
                          queue_data(priority=90, min_agent_tier=2, required_skills="refunds"))

    item.refresh_from_db()
    assert (item.queue_priority, item.min_agent_tier) == (90, 2)
    assert item.required_skills == ["refunds"]  # the skill the queue dropped no longer holds it back


def test_a_queue_rules_route_to_keeps_its_key(admin_client):
    queue = Queue.objects.create(key="chat.es", name="Chat ES")
    RoutingRule.objects.create(name="Spanish", queue_key="chat.es")

    response = admin_client.post(url(Queue, "change", queue.pk), queue_data(key="chat.spanish"))

    assert "Spanish" in form_errors(response)["key"][0]
    queue.refresh_from_db()
    assert queue.key == "chat.es"


# --- rules ---------------------------------------------------------------------------------------------------


@pytest.fixture
def queues() -> list[Queue]:
    return [Queue.objects.create(key=key, name=key) for key in ("chat.es", "vip.es", "general")]


@pytest.mark.parametrize(("conditions", "field", "message"), [
    ([(1, "lang", "eq", "es")], "attribute", "unknown attribute 'lang'"),
    ([(1, "custom.", "eq", "x")], "attribute", "unknown attribute 'custom.'"),
    ([(1, "lifetime_order_value", "gt", "lots")], "value", "gt compares numbers"),
    ([(1, "language", "in", " , ")], "value", "in needs a non-empty list"),
    ([(1, "language", "eq", '["es", "ca"]')], "value", "eq takes a single value"),
    ([(1, "language", "eq", "")], "value", "eq needs a value"),
    ([(1, "custom.vip", "exists", "maybe")], "value", "exists takes true or false"),
    ([(1, "tier", "eq", "NaN")], "value", "use finite numbers"),
    ([(1, "tier", "in", "NaN, 1")], "value", "use finite numbers"),
    ([(1, "lifetime_order_value", "gt", "Infinity")], "value", "compares numbers"),
])
def test_a_bad_condition_row_is_a_form_error_and_nothing_is_saved(admin_client, queues, conditions, field,
                                                                    message):
    response = admin_client.post(url(RoutingRule, "add"), rule_data(conditions))

    assert response.status_code == 200
    _, rows = inline_errors(response)
    assert any(message in error for error in rows[0][field]), rows
    assert not RoutingRule.objects.exists() and not RuleCondition.objects.exists()


@pytest.mark.parametrize(("queue_key", "message"), [
    ("chat.fr", "Missing queue 'chat.fr'"),
    ("email.{language}", "no queue's key fits the template 'email.{language}'"),
    ("chat.{lang}", "Unknown attribute lang"),
    ("chat.{language", "Template 'chat.{language'"),
    ("chat.{language!r}", "use plain {attribute} placeholders"),
])
def test_a_rule_to_a_missing_queue_or_a_bad_template_is_a_form_error(admin_client, queues, queue_key, message):
    response = admin_client.post(url(RoutingRule, "add"),
                                 rule_data([(1, "channel", "eq", "chat")], queue_key=queue_key))

    errors = form_errors(response)
    assert any(message in error for error in errors["queue_key"]), errors
    assert not RoutingRule.objects.exists() and not RuleCondition.objects.exists()


def test_two_rules_cannot_share_a_name(admin_client, queues):
    RoutingRule.objects.create(name="Spanish chat", queue_key="chat.es")

    response = admin_client.post(url(RoutingRule, "add"), rule_data(name="spanish chat "))

    assert "Another rule is called" in form_errors(response)["name"][0]
    assert RoutingRule.objects.count() == 1

def test_condition_rows_assemble_into_the_condition_that_routes_items(admin_client, queues):
    conditions = [(1, "language", "in", "ES, ca"), (2, "lifetime_order_value", "gte", "1000"),
                  (2, "tier", "eq", "vip"), (3, "custom.blocked", "exists", "false")]

    response = admin_client.post(url(RoutingRule, "add"), rule_data(
        conditions, name="VIP Spanish", queue_key="VIP.{language}", priority=5, required_skills="VIP, Refunds"))

    assert response.status_code == 302
    rule = RoutingRule.objects.get()
    assert rule.queue_key == "vip.{language}" and rule.required_skills == ["vip", "refunds"]
    assert rule.condition == {"all": [
        {"any": [{"attribute": "language", "op": "in", "value": ["ES", "ca"]}]},
        {"any": [{"attribute": "lifetime_order_value", "op": "gte", "value": 1000},
                 {"attribute": "tier", "op": "eq", "value": "vip"}]},
        {"any": [{"attribute": "custom.blocked", "op": "exists", "value": False}]},
    ]}

    def routed(**attributes: Any) -> services.Route:
        values = services.attributes_normalise(channel="chat", attributes=attributes)
        return services.route_find(attributes=values)

    rich = routed(language="es", lifetime_order_value="1500.00")
    assert (rich.rule, rich.queue.key, rich.priority) == ("VIP Spanish", "vip.es", 5)
    assert rich.required_skills == {"vip", "refunds"}
    assert routed(language="es", tier="VIP").queue.key == "vip.es"
    assert routed(language="es", lifetime_order_value=20).rule == ""
    assert routed(language="es", tier="vip", **{"custom.blocked": True}).rule == ""
    item = services.work_item_enqueue(conversation_id=7, channel="chat",
                                      attributes={"language": "es", "tier": "vip"})
    assert (item.queue.key, item.rule) == ("vip.es", "VIP Spanish")


def test_a_rule_without_rows_matches_everything(admin_client, queues):
    response = admin_client.post(url(RoutingRule, "add"), rule_data(queue_key="chat.es"))

    assert response.status_code == 302
    assert RoutingRule.objects.get().condition == {"all": []}
    values = services.attributes_normalise(channel="email", attributes={"language": "de"})
    assert services.route_find(attributes=values).queue.key == "chat.es"


def test_changing_rows_rebuilds_the_condition_and_other_edits_keep_one_written_elsewhere(admin_client, queues):
    admin_client.post(url(RoutingRule, "add"),
                      rule_data([(1, "channel", "eq", "chat"), (1, "channel", "eq", "email")]))
    rule = RoutingRule.objects.get()
    chat, email = rule.conditions.order_by("position")

    response = admin_client.post(url(RoutingRule, "change", rule.pk), rule_data(
        [(2, "language", "eq", "es")], initial=[chat, email]) | {"conditions-1-DELETE": "on"})

    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.condition == {"all": [{"any": [{"attribute": "channel", "op": "eq", "value": "chat"}]},
                                      {"any": [{"attribute": "language", "op": "eq", "value": "es"}]}]}
    # Someone sets the condition through the API; a supervisor then renames the rule.
    written = {"attribute": "country", "op": "eq", "value": "ES"}
    RoutingRule.objects.filter(pk=rule.pk).update(condition=written)
    page = admin_client.get(url(RoutingRule, "change", rule.pk))
    assert "was not made from the rows below" in page.content.decode()
    admin_client.post(url(RoutingRule, "change", rule.pk),
                      rule_data(initial=list(rule.conditions.all()), name="Renamed"))
    rule.refresh_from_db()
    assert (rule.name, rule.condition) == ("Renamed", written)


def test_rules_are_listed_and_run_in_position_order_set_from_the_list(admin_client, queues):
    first = RoutingRule.objects.create(name="first", position=10, queue_key="chat.es")
    second = RoutingRule.objects.create(name="second", position=20, queue_key="vip.es")

    response = admin_client.post(url(RoutingRule, "changelist"), {
        "form-TOTAL_FORMS": 2, "form-INITIAL_FORMS": 2, "form-MIN_NUM_FORMS": 0, "form-MAX_NUM_FORMS": 1000,
        "form-0-id": first.pk, "form-0-position": 30, "form-0-is_active": "on",
        "form-1-id": second.pk, "form-1-position": 20, "form-1-is_active": "on",
        "_save": "Save",
    })

    assert response.status_code == 302
    listed = admin_client.get(url(RoutingRule, "changelist")).context["cl"].result_list
    assert [rule.name for rule in listed] == ["second", "first"]
    assert [rule.name for rule in services.rules_load()] == ["second", "first"]
    values = services.attributes_normalise(channel="chat", attributes={})
    assert services.route_find(attributes=values).queue.key == "vip.es"


def test_a_rule_is_switched_off_from_the_list(admin_client, queues):
    rule = RoutingRule.objects.create(name="only", position=10, queue_key="chat.es")

    admin_client.post(url(RoutingRule, "changelist"), {
        "form-TOTAL_FORMS": 1, "form-INITIAL_FORMS": 1, "form-MIN_NUM_FORMS": 0, "form-MAX_NUM_FORMS": 1000,
        "form-0-id": rule.pk, "form-0-position": 10, "_save": "Save",
    })

    rule.refresh_from_db()
    assert not rule.is_active and services.rules_load() == []


# --- agents ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("capacity", "message"), [
    ('{"chat": 2, "fax": 1}', "Unknown channel fax"),
    ('{"chat": -1}', "chat must be a whole number of 0 or more"),
    ('{"chat": "3"}', "chat must be a whole number"),
    ('{"chat": 1.5}', "chat must be a whole number"),
    ('[3]', "Capacity is an object of channel"),
    ('{"chat": ', "Enter a valid JSON"),
])
def test_a_bad_capacity_is_a_form_error(admin_client, capacity, message):
    profile = AgentProfileFactory(capacity={"chat": 3})

    response = admin_client.post(url(AgentProfile, "change", profile.pk), agent_data(profile, capacity=capacity))

    errors = form_errors(response)
    assert any(message in error for error in errors["capacity"]), errors
    profile.refresh_from_db()
    assert profile.capacity == {"chat": 3}


def test_saving_an_agent_rebuilds_their_slots_and_keeps_what_the_router_set(
        admin_client, django_capture_on_commit_callbacks):
    Queue.objects.create(key="chat.fr", name="Chat FR")
    RoutingRule.objects.create(name="chat", queue_key="chat.{language}")
    waiting = services.work_item_enqueue(conversation_id=5, channel="chat", attributes={"language": "fr"})
    profile = online_agent(languages=["es"])
    assert waiting.state == ItemState.WAITING
    assert not AgentSlot.objects.filter(agent=profile, language="fr").exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url(AgentProfile, "change", profile.pk), agent_data(
            profile, languages="ES, fr", skills="Refunds", tier=2))

    assert response.status_code == 302
    profile.refresh_from_db()
    assert (profile.languages, profile.skills, profile.tier) == (["es", "fr"], ["refunds"], 2)
    assert profile.presence == Presence.ONLINE  # not read back from the form
    slots = AgentSlot.objects.filter(agent=profile, channel="chat", language="fr", contact_kind="customer")
    assert slots.filter(tier=2, skills=["refunds"]).exists()
    # The new language made the waiting French chat fit the agent, who took it.
    waiting.refresh_from_db()
    assert (waiting.state, waiting.agent_id) == (ItemState.OFFERED, profile.pk)


def test_the_agent_list_shows_and_filters_presence(admin_client):
    online = online_agent()
    AgentProfileFactory()

    response = admin_client.get(url(AgentProfile, "changelist"), {"presence__exact": "online"})

    assert [profile.pk for profile in response.context["cl"].result_list] == [online.pk]
    assert "Online" in response.content.decode()



def test_an_agent_holding_work_or_a_queue_with_items_cannot_be_deleted(admin_client):
    Queue.objects.create(key="general", name="General")
    profile = online_agent(languages=["en"])
    item = services.work_item_enqueue(conversation_id=4, channel="chat", attributes={"language": "en"})
    assert item.agent_id == profile.pk

    assert admin_client.post(url(AgentProfile, "delete", profile.pk), {"post": "yes"}).status_code == 403
    assert admin_client.post(url(Queue, "delete", item.queue_id), {"post": "yes"}).status_code == 403
    services.presence_set(user=profile.user, presence=Presence.OFFLINE)
    assert admin_client.post(url(AgentProfile, "delete", profile.pk), {"post": "yes"}).status_code == 302
    assert not AgentProfile.objects.filter(pk=profile.pk).exists()

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


# --- every page opens --------------------------------------------------------------------------------


def test_every_routing_admin_page_opens(admin_client, admin_user, queues):
    Queue.objects.filter(key="chat.es").update(overflow_queue=queues[2], overflow_after_seconds=60)
    admin_client.post(url(RoutingRule, "add"), rule_data([(1, "channel", "eq", "chat")]))
    online_agent()
    item = services.work_item_enqueue(conversation_id=3, channel="chat", attributes={"language": "es"})
    assert item.events.exists() and RoutingAudit.objects.exists()

    for model in (Queue, RoutingRule, AgentProfile, RoutingAudit, WorkItem, WorkItemEvent):
        obj = model.objects.order_by("pk").first()
        assert admin_client.get(url(model, "changelist")).status_code == 200, model
        assert admin_client.get(url(model, "change", obj.pk)).status_code == 200, model
    for model in (Queue, RoutingRule, AgentProfile):
        assert admin_client.get(url(model, "add")).status_code == 200, model
    for model in (RoutingAudit, WorkItem, WorkItemEvent):
        assert admin_client.get(url(model, "add")).status_code == 403, model
    page = admin_client.get(url(WorkItem, "change", item.pk)).content.decode()
    assert "queued" in page and "offered" in page
    assert admin_client.get(url(WorkItem, "changelist"), {"q": "3"}).context["cl"].result_count == 1
    assert admin_client.get(url(WorkItem, "changelist"), {"q": "abc"}).status_code == 200
    filtered = admin_client.get(url(WorkItem, "changelist"), {"state": "offered", "channel": "chat",
                                                               "queue__id__exact": item.queue_id})
    assert [row.pk for row in filtered.context["cl"].result_list] == [item.pk]

