"""Supervisors' routing admin: queue, rule and agent forms refuse what would break routing,
saves reach the router (conditions assembled, slots rebuilt, waiting items re-prioritised),
every change is audited, and the dry run shows the route without writing anything."""


from __future__ import annotations

from typing import Any

import pytest

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
from tests.factories import AgentProfileFactory
from tests.routing.admin_forms import (
    agent_data,
    form_errors,
    inline_errors,
    online_agent,
    queue_data,
    rule_data,
    url,
)

pytestmark = pytest.mark.django_db


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


@pytest.mark.parametrize("term", ["²", "99999999999999999999", "abc"])
def test_searching_work_items_or_their_history_for_no_id_finds_nothing(admin_client, term):
    services.work_item_enqueue(conversation_id=3, channel="chat", attributes={"language": "es"})
    for model in (WorkItem, WorkItemEvent):
        response = admin_client.get(url(model, "changelist"), {"q": term})
        assert response.status_code == 200, model
        assert response.context["cl"].result_count == 0, model
