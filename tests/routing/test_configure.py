"""Supervisors' saves as services: queue_save, rule_save, agent_settings_save check, write,
audit, and rebuild routing only once the save commits (never on a rollback)."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone

from routing import services
from routing.models import AgentProfile, AgentSlot, ItemState, Presence, Queue, RoutingAudit, RoutingRule, WorkItem
from routing.rules import ConditionRow
from routing.services import config
from tests.factories import AgentProfileFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def supervisor():
    return UserFactory()


def waiting_item(queue: Queue) -> WorkItem:
    now = timezone.now()
    return WorkItem.objects.create(conversation_id=1, channel="chat", language="es", contact_kind="customer",
                                   queue=queue, queue_priority=queue.priority, enqueued_at=now, queued_at=now)


# --- queues ----------------------------------------------------------------------------------------


def test_a_bad_queue_is_refused_with_its_field_and_nothing_is_written(supervisor):
    with pytest.raises(services.ConfigInvalid) as refused:
        services.queue_save(queue=Queue(key="chat es", name="Chat"), actor=supervisor)
    assert "key" in refused.value.errors and refused.value.code == "invalid_config"
    with pytest.raises(services.ConfigInvalid) as refused:
        services.queue_save(queue=Queue(key="chat.es", name="Chat", priority=500), actor=supervisor)
    assert "priority" in refused.value.errors
    assert not Queue.objects.exists() and not RoutingAudit.objects.exists()


def test_a_queue_save_is_audited_and_its_waiting_items_follow_after_commit(
        supervisor, django_capture_on_commit_callbacks):
    queue = services.queue_save(queue=Queue(key=" Chat.ES ", name="Chat"), actor=supervisor)
    assert queue.key == "chat.es"
    item = waiting_item(queue)

    queue.priority, queue.min_agent_tier = 90, 2
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.queue_save(queue=queue, actor=supervisor)
        item.refresh_from_db()
        assert item.queue_priority != 90  # not before the commit
    for callback in callbacks:
        callback()
    item.refresh_from_db()
    assert (item.queue_priority, item.min_agent_tier) == (90, 2)
    audits = list(RoutingAudit.objects.order_by("id").values_list("action", flat=True))
    assert audits == ["created", "changed"]


def test_a_queue_save_rolled_back_rebuilds_nothing(supervisor, django_capture_on_commit_callbacks):
    queue = Queue.objects.create(key="chat.es", name="Chat")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            queue.priority = 90
            services.queue_save(queue=queue, actor=supervisor)
            raise RuntimeError("the caller's transaction fails")
    assert callbacks == []
    assert Queue.objects.get().priority != 90 and not RoutingAudit.objects.exists()


# --- rules -----------------------------------------------------------------------------------------


def test_a_rule_with_rows_is_checked_assembled_audited_and_read_afresh_after_commit(
        supervisor, django_capture_on_commit_callbacks):
    Queue.objects.create(key="chat.es", name="Chat")
    config.routing_config(fresh=True)
    bad = [ConditionRow(group=1, attribute="nonsense", op="eq", value="x")]
    with pytest.raises(services.ConfigInvalid):
        services.rule_save(rule=RoutingRule(name="Spanish", queue_key="chat.es"), actor=supervisor, rows=bad)
    assert not RoutingRule.objects.exists()

    rows = [ConditionRow(group=1, attribute="language", op="eq", value="es")]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        rule = services.rule_save(rule=RoutingRule(name="Spanish", queue_key="Chat.ES"), actor=supervisor,
                                  rows=rows)
    assert rule.queue_key == "chat.es"
    assert rule.condition == {"all": [{"any": [{"attribute": "language", "op": "eq", "value": "es"}]}]}
    assert callbacks  # the configuration is read afresh once the rule commits
    assert [r.name for r in config.routing_config().rules] == ["Spanish"]
    assert RoutingAudit.objects.get().after["conditions"][0]["attribute"] == "language"

    with pytest.raises(services.ConfigInvalid) as refused:
        services.rule_save(rule=RoutingRule(name="spanish", queue_key="chat.es"), actor=supervisor)
    assert "name" in refused.value.errors


# --- agents' settings ------------------------------------------------------------------------------


def test_agent_settings_are_checked_audited_and_rebuild_the_slots_after_commit(
        supervisor, django_capture_on_commit_callbacks):
    profile = AgentProfileFactory(languages=["es"], contact_kinds=["customer"],
                                  capacity={"chat": 1, "messaging": 0, "email": 0, "voice": 0})
    services.presence_set(user=profile.user, presence=Presence.ONLINE)
    queue = Queue.objects.create(key="chat.es", name="Chat")
    item = waiting_item(queue)
    item.language = "en"
    item.save()

    profile.contact_kinds = ["alien"]
    with pytest.raises(services.ConfigInvalid) as refused:
        services.agent_settings_save(profile=profile, actor=supervisor)
    assert "contact_kinds" in refused.value.errors

    profile = AgentProfile.objects.get(pk=profile.pk)
    profile.languages = ["es", "en"]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.agent_settings_save(profile=profile, actor=supervisor)
        assert not AgentSlot.objects.filter(agent_id=profile.pk, language="en").exists()
    for callback in callbacks:
        callback()
    assert AgentSlot.objects.filter(agent_id=profile.pk, language="en").exists()
    item.refresh_from_db()
    assert item.state == ItemState.OFFERED and item.agent_id == profile.pk  # work that now fits
    assert RoutingAudit.objects.get().action == "changed"


def test_agent_settings_rolled_back_rebuild_nothing(supervisor, django_capture_on_commit_callbacks):
    profile = AgentProfileFactory(languages=["es"], contact_kinds=["customer"])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            profile.languages = ["en"]
            services.agent_settings_save(profile=profile, actor=supervisor)
            raise RuntimeError("the caller's transaction fails")
    assert callbacks == []
    assert AgentProfile.objects.get(pk=profile.pk).languages == ["es"]
