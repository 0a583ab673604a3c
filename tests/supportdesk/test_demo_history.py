"""The demo's history feeds the reports: each past conversation has the work item and routing
history routing would have written, and the seeding works the reports' counters out over it."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from conversations.models import Channel, Conversation, ConversationStatus, Message, MessageDirection
from conversations.services import routing_attributes
from reports.models import AgentHourRollup, ConversationFact, HourRollup
from reports.selectors import ReportQuery, Scope, report
from routing.models import CONTACT_KINDS, ItemState, WorkItem, WorkItemEvent, WorkItemEventKind
from routing.services import attributes_normalise, route_find
from supportdesk import demo
from supportdesk.demo.queues import demo_queue_key
from timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db

CONTACTS = 240  # as tests/supportdesk/test_demo.py: every language, all three kinds
PAST = (ConversationStatus.RESOLVED, ConversationStatus.CLOSED)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _last_30_days() -> dict:
    today = timezone.localdate()
    return report(ReportQuery(start=today - timedelta(days=29), end=today), Scope())


def _counters() -> dict[str, list[tuple]]:
    """Every counter row, without ids (floats rounded: sums may add up in another order)."""
    def rows(model: type) -> list[tuple]:
        fields = [field.attname for field in model._meta.concrete_fields if field.attname != "id"]
        return sorted(tuple(round(value, 6) if isinstance(value, float) else value for value in row)
                      for row in model.objects.values_list(*fields))

    return {"hours": rows(HourRollup), "agents": rows(AgentHourRollup)}


def test_after_seeding_the_reports_of_the_last_30_days_show_the_demos_history():
    demo.demo_seed(contacts=CONTACTS)

    overview = _last_30_days()

    totals = overview["totals"]
    assert totals["arrived"] > 0
    assert totals["answered"] > 0
    assert 0.5 <= totals["service_level"] <= 1
    assert totals["abandonment_rate"] > 0
    assert totals["handle_seconds"] > 0
    agents = overview["tables"]["agent"]
    assert agents
    assert any(row["answered"] and row["resolved"] and row["handle_seconds"] for row in agents)
    # Over the whole history agents also missed offers: declined, or let them time out.
    assert AgentHourRollup.objects.filter(declined__gt=0).exists()
    assert AgentHourRollup.objects.filter(missed__gt=0).exists()


def test_seeding_twice_leaves_the_counters_equal_and_a_rerun_rebuilds_missing_facts():
    demo.demo_seed(contacts=CONTACTS)
    counters = _counters()
    items, events = WorkItem.objects.count(), WorkItemEvent.objects.count()

    again = demo.demo_seed(contacts=CONTACTS)

    # nothing new: nothing to work out
    assert again.rows == 0 and "Reports: their counters were up to date (/desk/reports/)." in again.after_seeding
    assert _counters() == counters
    assert (WorkItem.objects.count(), WorkItemEvent.objects.count()) == (items, events)

    # given facts gone (a run stopped before its rebuild): the next run works them out again
    ConversationFact.objects.all().delete()

    repaired = demo.demo_seed(contacts=CONTACTS)

    assert any(line.startswith("Reports: counters worked out from") for line in repaired.after_seeding)
    assert ConversationFact.objects.count() == Conversation.objects.count()
    assert _counters() == counters


def test_every_past_conversation_has_the_work_routing_would_have_recorded():
    demo.demo_seed(contacts=CONTACTS)

    past = list(Conversation.objects.filter(status__in=PAST).select_related("contact"))
    items_of = defaultdict(list)
    for item in (WorkItem.objects.filter(conversation_id__in=[c.pk for c in past])
                 .select_related("queue", "agent").order_by("enqueued_at")):
        items_of[item.conversation_id].append(item)
    for conversation in past:
        items = items_of[conversation.pk]
        assert items, conversation.subject
        first, last = items[0], items[-1]
        assert first.enqueued_at == conversation.created_at
        values = attributes_normalise(channel=conversation.channel, attributes=routing_attributes(conversation))
        assert {item.queue.key for item in items} == {route_find(attributes=values).queue.key}
        if conversation.resolved_at is None:  # the contact left before anyone answered
            assert conversation.status == ConversationStatus.CLOSED and conversation.assignee_id is None
            assert (first.state, first.answered_at, first.agent_id) == (ItemState.CANCELLED, None, None)
            assert first.completed_at > first.enqueued_at
            continue
        assert all(item.state == ItemState.COMPLETED and item.answered_at for item in items)
        assert last.agent.user_id == conversation.assignee_id
        assert last.completed_at == conversation.resolved_at
        # The agent took it before writing anything (a reply, or on a call a note).
        first_written = conversation.messages.filter(author_user__isnull=False).earliest("sequence")
        assert first.answered_at < first_written.created_at

    # As the desk has it, a call has no written replies: what its agent writes down is a note.
    calls = Conversation.objects.filter(channel=Channel.VOICE)
    assert calls.exists()
    assert not Message.objects.filter(conversation__in=calls, direction=MessageDirection.OUTBOUND).exists()

    history = Counter(WorkItemEvent.objects.filter(item__conversation_id__in=[c.pk for c in past])
                      .values_list("kind", flat=True))
    # Some of everything the reports count: misses, transfers, breaches, reopens, abandons.
    for kind in (WorkItemEventKind.DECLINED, WorkItemEventKind.EXPIRED, WorkItemEventKind.TRANSFERRED,
                 WorkItemEventKind.BREACHED, WorkItemEventKind.CANCELLED):
        assert history[kind], kind
    assert any(len(items) == 2 for items in items_of.values())  # reopened and resolved again
    # The contact's timeline shows the steps the copier of routing's history would have copied.
    copied = Counter(TimelineEvent.objects.filter(subject_type="conversation", subject_id__in=[c.pk for c in past],
                                                  kind__startswith="routing.").values_list("kind", flat=True))
    assert copied == {f"routing.{kind}": count for kind, count in history.items()
                      if kind in WorkItemEvent.CONTACT_HISTORY_KINDS}


def test_the_plans_queue_is_the_one_the_demos_rules_give():
    demo.demo_staff_ensure()

    for channel in (Channel.CHAT, Channel.MESSAGING, Channel.EMAIL, Channel.VOICE):
        for contact_kind in CONTACT_KINDS:
            for language in (*demo.CHAT_LANGUAGES, "xx"):  # xx: no chat queue of its own
                for value in (Decimal("20.00"), Decimal("1000.00"), Decimal("2500.00")):
                    values = attributes_normalise(channel=channel, attributes={
                        "language": language, "contact_kind": contact_kind, "lifetime_order_value": str(value)})
                    assert route_find(attributes=values).queue.key == demo_queue_key(
                        channel=channel, language=language, contact_kind=contact_kind, lifetime_order_value=value,
                    ), (channel, contact_kind, language, value)
