"""The demo data: idempotent, resumable, consistent with what the services would write."""

from __future__ import annotations

from collections import defaultdict
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Count, F

from conversations import selectors
from conversations.models import Conversation, ConversationStatus, Message, MessageDirection
from routing.models import OPEN_STATES, AgentProfile, ItemState, WorkItem
from supportdesk import demo
from supportdesk.demo import seed as demo_seed_module
from supportdesk.demo.workflows import RECOVERY_KEY, UNHAPPY_CUSTOMER
from timeline.events import EventKind, known_kinds
from timeline.models import (
    Contact,
    ContactKind,
    CustomerTier,
    Order,
    OrderStatus,
    OrderStatusChange,
    TimelineEvent,
)
from timeline.services import customer_totals_refresh
from workflows.models import Workflow

pytestmark = pytest.mark.django_db

# 24 blocks of ten: every language of the cycle gets contacts of all three kinds.
CONTACTS = 240


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _counts() -> dict[str, int]:
    models = (get_user_model(), AgentProfile, Contact, Order, OrderStatusChange, Conversation,
              Message, TimelineEvent)
    return {model.__name__: model.objects.count() for model in models}


def _fingerprint() -> dict[str, list]:
    """The seeded data without ids and timestamps, which differ from one database to another."""
    return {
        "contacts": sorted(Contact.objects.values_list(
            "kind", "external_id", "name", "email", "preferred_language", "tier",
            "lifetime_order_value", "order_count", "credit_balance", "vehicle", "store_name",
            "current_order__external_id",
        )),
        "orders": sorted(Order.objects.values_list(
            "external_id", "customer__external_id", "courier__external_id",
            "partner__external_id", "status", "total", "is_delayed",
        )),
        "history": sorted(OrderStatusChange.objects.values_list("order__external_id", "status")),
        "conversations": sorted(Conversation.objects.values_list(
            "contact__external_id", "channel", "status", "subject", "assignee__username",
            "last_message_sequence",
        )),
        "messages": sorted(Message.objects.values_list(
            "conversation__contact__external_id", "conversation__subject", "sequence", "body",
        )),
        "timeline": sorted(TimelineEvent.objects.values_list(
            "contact__external_id", "kind", "subject_type",
        )),
    }


def _demo_contacts_delete() -> None:
    Order.objects.all().delete()
    Contact.objects.all().delete()
    # Routing's work items name their conversation by id only (routing knows no conversations).
    WorkItem.objects.all().delete()


def test_seeding_twice_leaves_the_same_data():
    demo.demo_seed(contacts=CONTACTS, chunk_size=100)
    counts, fingerprint = _counts(), _fingerprint()

    again = demo.demo_seed(contacts=CONTACTS, chunk_size=100)

    assert again.rows == 0
    assert _counts() == counts
    assert _fingerprint() == fingerprint


def test_a_bigger_run_adds_only_new_contacts_and_ends_like_a_single_run():
    demo.demo_seed(contacts=70, chunk_size=25)
    demo.demo_seed(contacts=150, chunk_size=25)
    grown = _fingerprint()
    _demo_contacts_delete()

    demo.demo_seed(contacts=150, chunk_size=1_000)

    assert _fingerprint() == grown
    assert Contact.objects.count() == 150


def test_an_interrupted_run_keeps_whole_chunks_and_a_rerun_completes_it(monkeypatch):
    real_messages_create = demo_seed_module.messages_create
    calls = 0

    def power_cut_in_second_chunk(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("power cut")
        return real_messages_create(*args, **kwargs)

    # Where the chunk writer looks it up.
    monkeypatch.setattr(demo_seed_module, "messages_create", power_cut_in_second_chunk)
    with pytest.raises(RuntimeError):
        demo.demo_seed(contacts=100, chunk_size=40)

    # The second chunk left nothing behind: no contacts, and no orders without them.
    assert Contact.objects.count() == 40
    assert not Order.objects.filter(customer__isnull=True).exists()
    assert not Conversation.objects.filter(messages__isnull=True).exists()

    monkeypatch.undo()
    demo.demo_seed(contacts=100, chunk_size=40)
    resumed = _fingerprint()
    _demo_contacts_delete()
    demo.demo_seed(contacts=100, chunk_size=40)
    assert _fingerprint() == resumed


def test_every_ongoing_conversation_is_with_routing_and_an_assigned_one_in_its_agents_workspace():
    # Seeded open conversations used to have an assignee but no work item: in nobody's workspace.
    demo.demo_seed(contacts=CONTACTS)

    ongoing = Conversation.objects.filter(status__in=(ConversationStatus.OPEN, ConversationStatus.PENDING))
    assert ongoing.filter(assignee__isnull=False).exists()
    assert ongoing.filter(assignee__isnull=True).exists()
    for conversation in ongoing.select_related("assignee"):
        item = WorkItem.objects.filter(conversation_id=conversation.pk, state__in=OPEN_STATES).first()
        assert item is not None, conversation.subject
        if conversation.assignee is not None:
            assert (item.state, item.agent.user_id) == (ItemState.ASSIGNED, conversation.assignee.pk)
            workspace = selectors.agent_conversations(user=conversation.assignee)
            assert workspace.filter(pk=conversation.pk).exists(), conversation.subject
        # Its timeline tells when it happened, not when the demo ran.
        opened = TimelineEvent.objects.get(kind=EventKind.CONVERSATION_OPENED, subject_type="conversation",
                                           subject_id=conversation.pk)
        assert opened.occurred_at == conversation.created_at
    # History stays history: nothing resolved or closed holds an agent.
    finished = Conversation.objects.exclude(status__in=(ConversationStatus.OPEN, ConversationStatus.PENDING))
    assert not WorkItem.objects.filter(conversation_id__in=finished.values("pk"), state__in=OPEN_STATES).exists()


def test_contacts_of_all_kinds_in_every_language():
    demo.demo_seed(contacts=CONTACTS)

    kinds_by_language = defaultdict(set)
    for kind, language in Contact.objects.values_list("kind", "preferred_language"):
        kinds_by_language[language].add(kind)
    assert set(kinds_by_language) == set(demo.LANGUAGE_CYCLE)
    assert all(kinds == set(ContactKind.values) for kinds in kinds_by_language.values())
    assert not Contact.objects.filter(country="").exists()
    # Each kind carries its own context.
    customers = Contact.objects.filter(kind=ContactKind.CUSTOMER)
    assert customers.filter(tier=CustomerTier.VIP).exists()
    assert customers.filter(credit_balance__gt=0).exists()
    assert not customers.filter(tier="").exists()
    assert not Contact.objects.filter(kind=ContactKind.COURIER, vehicle="").exists()
    assert not Contact.objects.filter(kind=ContactKind.PARTNER, store_name="").exists()
    assert Contact.objects.filter(kind=ContactKind.COURIER,
                                  current_order__isnull=False).exists()


def test_orders_have_history_delays_and_cancellations():
    demo.demo_seed(contacts=CONTACTS)

    assert Order.objects.filter(is_delayed=True).exists()
    assert Order.objects.filter(status=OrderStatus.CANCELLED).exists()
    assert Order.objects.filter(status=OrderStatus.DELIVERED).exists()
    history = defaultdict(list)
    for order_id, status in OrderStatusChange.objects.order_by(
        "order_id", "occurred_at", "id"
    ).values_list("order_id", "status"):
        history[order_id].append(status)
    for order in Order.objects.all():
        assert history[order.pk][0] == OrderStatus.CREATED
        assert history[order.pk][-1] == order.status
    # Orders go to couriers and partners of the customer's own country.
    assert not Order.objects.exclude(partner__country=F("customer__country")).exists()


def test_lifetime_values_are_what_the_totals_refresh_computes():
    demo.demo_seed(contacts=CONTACTS)

    customers = list(Contact.objects.filter(kind=ContactKind.CUSTOMER))
    assert any(customer.order_count for customer in customers)
    for customer in customers:
        refreshed = customer_totals_refresh(customer_id=customer.pk)
        assert (customer.lifetime_order_value, customer.order_count) == (
            refreshed.lifetime_order_value, refreshed.order_count
        ), customer.external_id


def test_message_sequences_run_from_one_without_gaps():
    demo.demo_seed(contacts=CONTACTS)

    conversations = Conversation.objects.annotate(messages_count=Count("messages"))
    assert conversations.exists()
    for conversation in conversations:
        messages = list(conversation.messages.order_by("sequence"))
        assert [m.sequence for m in messages] == list(range(1, len(messages) + 1))
        assert conversation.last_message_sequence == len(messages)
        assert conversation.last_message_at == messages[-1].created_at
        assert messages[0].direction == MessageDirection.INBOUND
        assert [m.created_at for m in messages] == sorted(m.created_at for m in messages)
        assert conversation.created_at == messages[0].created_at
    assert len(set(Conversation.objects.values_list("channel", flat=True))) == 4


def test_timeline_uses_the_writers_kinds_for_every_contact():
    demo.demo_seed(contacts=CONTACTS)

    known = known_kinds()  # every kind a `timeline.events` writer records
    kinds = set(TimelineEvent.objects.values_list("kind", flat=True))
    assert kinds <= known
    assert {EventKind.CONTACT_CREATED, EventKind.ORDER_CREATED, EventKind.ORDER_DELIVERED,
            EventKind.ORDER_DELAYED, EventKind.ORDER_COURIER_ASSIGNED,
            EventKind.CONVERSATION_OPENED} <= kinds
    assert TimelineEvent.objects.filter(kind=EventKind.CONTACT_CREATED).count() == CONTACTS
    order_created = Order.objects.count()
    assert TimelineEvent.objects.filter(kind=EventKind.ORDER_CREATED).count() == order_created


def test_staff_speak_thirteen_languages_and_can_log_in(client):
    demo.demo_seed(contacts=0)

    languages = set()
    for profile in AgentProfile.objects.select_related("user"):
        assert len(profile.languages) >= 2
        # Agents work in /desk/, not in the admin.
        assert not profile.user.is_staff and not profile.user.is_superuser
        assert profile.contact_kinds
        languages.update(profile.languages)
    assert len(languages) >= 13
    assert len({tuple(p.contact_kinds) for p in AgentProfile.objects.all()}) > 1

    # Through the login pages, as people sign in (login throttling needs the request).
    assert client.post("/admin/login/", {"username": "supervisor", "password": "supervisor"}).status_code == 302
    assert client.get("/admin/").status_code == 200
    assert client.post("/desk/login/", {"username": "agent.ka", "password": "agent"}).status_code == 302


def test_command_reports_progress_and_a_summary():
    out = StringIO()

    call_command("seed_demo", "--contacts", "30", "--chunk-size", "10", stdout=out)

    output = out.getvalue()
    assert "30/30 contacts" in output
    assert "ETA" in output
    assert "rows/s" in output
    assert "contacts" in output and "timeline events" in output and "work items" in output
    # The reports' counters over the seeded history, with their own progress line.
    assert "reports' counters: " in output
    assert "Reports: counters worked out from" in output
    # The 30 asked for, and the recovery workflow's unhappy high-value customer (demo/workflows.py).
    assert Contact.objects.exclude(external_id=UNHAPPY_CUSTOMER.external_id).count() == 30
    assert Workflow.objects.get(key=RECOVERY_KEY).is_enabled
    assert "demo_order_delay" in output


def test_command_rejects_a_negative_count():
    with pytest.raises(CommandError, match="--contacts"):
        call_command("seed_demo", "--contacts", "-5", stdout=StringIO())


def test_command_refuses_without_demo_data_allowed(settings):
    # given a production desk: the demo's logins have passwords published in the README
    settings.DEMO_DATA = False

    with pytest.raises(CommandError, match="DEMO_DATA"):
        call_command("seed_demo", "--contacts", "0", stdout=StringIO())

    assert not get_user_model().objects.filter(username=demo.SUPERVISOR_USERNAME).exists()


def test_command_if_allowed_skips_quietly_where_the_demo_is_not_allowed(settings):
    settings.DEMO_DATA = False
    out = StringIO()

    call_command("seed_demo", "--if-allowed", "--contacts", "0", stdout=out)

    assert "not loaded" in out.getvalue()
    assert not get_user_model().objects.filter(username=demo.SUPERVISOR_USERNAME).exists()


def test_demo_data_is_allowed_by_default_only_with_debug_on():
    from tests.deployments import desk_settings, production_env

    assert desk_settings({"DEBUG": "true"})["DEMO_DATA"] is True
    assert desk_settings(production_env())["DEMO_DATA"] is False


def test_demo_routing_sends_chats_by_language_and_big_spenders_to_vip():
    from routing.services import route_find

    demo.demo_staff_ensure()
    demo.demo_staff_ensure()  # idempotent

    spanish = route_find(attributes={"channel": "chat", "language": "es", "contact_kind": "customer",
                                     "lifetime_order_value": "20.00"})
    vip = route_find(attributes={"channel": "chat", "language": "es", "contact_kind": "customer",
                                 "lifetime_order_value": "2500.00"})
    assert spanish.queue.key == "chat.es" and vip.queue.key == "vip" and vip.priority == 10
    assert "vip" in vip.required_skills
    assert AgentProfile.objects.filter(skills__contains=["vip"], tier__gte=2).exists()
    # Email keeps office hours; the chat queues keep none, so the widget is open whenever tried.
    email = route_find(attributes={"channel": "email", "language": "es", "contact_kind": "customer"}).queue
    assert email.business_hours.time_zone == "Europe/Madrid" and email.business_hours.holidays.exists()
    assert spanish.queue.business_hours_id is None
