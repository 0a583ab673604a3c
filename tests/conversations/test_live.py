"""The supervisors' live view: who may see it, the figures it shows, the snapshots pushed to
it over the real Redis channel layer; the admin for macros; the demo's chat data."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import Permission
from django.shortcuts import resolve_url
from django.utils import timezone

from conversations import selectors, tasks
from conversations.admin import MacroForm
from conversations.live import live_rows
from conversations.models import ContactReason, Conversation, Macro
from routing import services as routing
from routing.models import AgentPresenceChange, ItemState, Presence, PresenceReason, Queue, WorkItem
from routing.selectors import day_start
from supportdesk import demo
from supportdesk.push import flush
from supportdesk.routing import websocket_urlpatterns
from tests.factories import AgentFactory, AgentProfileFactory, ConversationFactory, UserFactory

pytestmark = pytest.mark.django_db


def supervisor_make(**fields):
    user = UserFactory(**fields)
    user.user_permissions.add(Permission.objects.get(codename="supervise",
                                                     content_type__app_label="supportdesk"))
    return user


def agent_with_presence(presence: str, **fields):
    profile = AgentProfileFactory(capacity={"chat": 2}, languages=["es"], **fields)
    return routing.presence_set(user=profile.user, presence=presence)


def waiting_item(conversation_id: int, *, waited: timedelta, now) -> WorkItem:
    item = routing.work_item_enqueue(conversation_id=conversation_id, channel="chat",
                                     attributes={"language": "es", "contact_kind": "customer"})
    WorkItem.objects.filter(pk=item.pk).update(enqueued_at=now - waited, queued_at=now - waited)
    return item


# --- the page ------------------------------------------------------------------------------------


def test_an_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get("/desk/live/")

    assert response.status_code == 302
    assert response.url == f"{resolve_url(settings.LOGIN_URL)}?next=/desk/live/"


def test_an_agent_who_does_not_supervise_gets_a_clear_403(client):
    client.force_login(AgentFactory())

    response = client.get("/desk/live/")

    assert response.status_code == 403
    assert "Supervisors only" in response.content.decode()


def test_a_supervisor_sees_the_first_snapshot_rendered_with_names_escaped(client):
    Queue.objects.create(key="chat.es", name="Chat <script>alert(1)</script>", target_wait_seconds=60)
    client.force_login(supervisor_make())

    response = client.get("/desk/live/")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="live-queues"' in html and 'data-queue="chat.es"' in html
    assert 'data-testid="live-queue-row"' in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "desk/live.js" in html


def test_the_live_view_answers_only_get(client):
    client.force_login(supervisor_make())

    assert client.post("/desk/live/").status_code == 405


# --- the figures -------------------------------------------------------------------------------


def test_the_snapshot_flags_waits_near_and_past_the_target_and_lists_only_agents_not_offline():
    now = timezone.now()
    Queue.objects.create(key="general", name="General", target_wait_seconds=100)
    online = agent_with_presence(Presence.ONLINE, contact_kinds=["courier"])  # takes none of the items
    agent_with_presence(Presence.OFFLINE)
    waiting_item(1, waited=timedelta(seconds=50), now=now)
    waiting_item(2, waited=timedelta(seconds=85), now=now)
    waiting_item(3, waited=timedelta(seconds=150), now=now)

    snapshot = selectors.supervisor_snapshot(now=now)

    [general] = snapshot["queues"]
    assert general["key"] == "general" and general["waiting"] == 3
    assert general["longest_wait_seconds"] == 150
    assert [(risk["conversation_id"], risk["breached"]) for risk in snapshot["at_risk"]] == [(3, True), (2, False)]
    assert snapshot["at_risk"][0]["waited_seconds"] == 150 and snapshot["at_risk"][0]["target_wait_seconds"] == 100
    assert [agent["id"] for agent in snapshot["agents"]] == [online.user_id]
    assert snapshot["agents"][0]["capacity"]["chat"] == 2
    assert snapshot["agents_by_presence"] == {"online": 1, "away": 0, "offline": 1}


def test_satisfaction_today_counts_each_rating_in_the_queue_it_was_rated_in():
    # Given, at 11:00, conversations rated this morning (and one yesterday), each in the queue
    # of its last work item enqueued before the rating:
    now = day_start(timezone.now()) + timedelta(hours=11)
    chat, email = (Queue.objects.create(key=key, name=key) for key in ("chat.es", "email"))

    def rated(score: int, *, at: datetime, items: list[tuple[Queue, datetime]]) -> Conversation:
        conversation = ConversationFactory()
        for queue, enqueued_at in items:
            routing.work_item_complete(conversation_id=conversation.pk)  # the one before, if any
            item = routing.work_item_enqueue(conversation_id=conversation.pk, channel="chat", queue_key=queue.key,
                                             attributes={"language": "es", "contact_kind": "customer"})
            WorkItem.objects.filter(pk=item.pk).update(enqueued_at=enqueued_at, queued_at=enqueued_at)
        Conversation.objects.filter(pk=conversation.pk).update(rating=score, rated_at=at)
        return conversation

    rated(5, at=now - timedelta(hours=1), items=[(chat, now - timedelta(hours=2))])
    rated(3, at=now - timedelta(hours=1), items=[(chat, now - timedelta(hours=2))])
    hours_ago = [now - timedelta(hours=n) for n in range(4)]
    # moved on to email before its rating: email's
    rated(4, at=hours_ago[1], items=[(chat, hours_ago[3]), (email, hours_ago[2])])
    # reopened in email after its rating: still chat's
    rated(4, at=hours_ago[2], items=[(chat, hours_ago[3]), (email, hours_ago[1])])
    rated(5, at=now - timedelta(days=1), items=[(chat, now - timedelta(days=1, hours=1))])  # yesterday's
    rated(1, at=now + timedelta(minutes=5), items=[(chat, now - timedelta(hours=1))])  # not rated yet at 11:00

    queues = {queue["key"]: queue for queue in selectors.supervisor_snapshot(now=now)["queues"]}
    words = {queue["key"]: queue for queue in live_rows(selectors.supervisor_snapshot(now=now))["queues"]}

    assert (queues["chat.es"]["rated_today"], queues["chat.es"]["satisfaction_today"]) == (3, round(2 / 3, 4))
    assert (queues["email"]["rated_today"], queues["email"]["satisfaction_today"]) == (1, 1.0)
    assert (words["chat.es"]["satisfaction"], words["email"]["satisfaction"]) == ("67 % (3)", "100 % (1)")


def test_the_live_view_words_speed_of_answer_abandonment_and_time_in_each_presence():
    # Given, at 11:00: in the general queue two items answered after 30 s and 90 s, one
    # abandoned after a minute and one left within 5 s
    today = day_start(timezone.now())
    now = today + timedelta(hours=11)
    Queue.objects.create(key="general", name="General")
    ends = ((1, ItemState.COMPLETED, 30, 600), (2, ItemState.ASSIGNED, 90, None),
            (3, ItemState.CANCELLED, None, 60), (4, ItemState.CANCELLED, None, 3))
    for conversation_id, state, answered, closed in ends:
        enqueued = now - timedelta(hours=1)
        item = waiting_item(conversation_id, waited=timedelta(hours=1), now=now)
        WorkItem.objects.filter(pk=item.pk).update(
            state=state, answered_at=enqueued + timedelta(seconds=answered) if answered else None,
            completed_at=enqueued + timedelta(seconds=closed) if closed else None)
    # and an agent, offline since yesterday evening, online 8:00-9:00, away until 10:00, online since
    agent = AgentProfileFactory(presence=Presence.ONLINE)
    AgentPresenceChange.objects.bulk_create(
        AgentPresenceChange(agent=agent, presence=presence, at=at, reason=PresenceReason.AGENT)
        for at, presence in ((today - timedelta(hours=4), "offline"), (today + timedelta(hours=8), "online"),
                             (today + timedelta(hours=9), "away"), (today + timedelta(hours=10), "online")))

    live = live_rows(selectors.supervisor_snapshot(now=now))

    [queue] = live["queues"]
    assert (queue["answer_seconds_today"], queue["answer_speed"]) == (60.0, "1m 00s")
    # one abandoned of the three whose wait ended (two answered); the 3-second one left out
    assert (queue["abandoned_today"], queue["abandonment"]) == (1, "33 % (1)")
    [row] = live["agents"]
    assert row["presence_seconds_today"] == {"online": 7200.0, "away": 3600.0, "offline": 28800.0}
    assert row["presence_today"] == ["2h 00m", "1h 00m", "8h 00m"]  # online, away, offline


def test_the_page_shows_the_new_columns_with_their_words(client):
    Queue.objects.create(key="chat.es", name="Chat ES")
    agent_with_presence(Presence.ONLINE)
    client.force_login(supervisor_make())

    html = client.get("/desk/live/").content.decode()

    for heading in ("Average speed of answer today", "Abandoned today", "Satisfaction today", "Online today",
                    "Away today", "Offline today"):
        assert f">{heading}<" in html
    assert re.search(r'data-testid="queue-satisfaction">—<', html)  # no rating yet
    assert len(re.findall(r'data-testid="agent-presence-today">[^<]+<', html)) == 3
    assert '"presences": {"online": "Online", "away": "Away", "offline": "Offline"}' in html  # live.js's words


# --- the push ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_channel_layer")
def test_the_beat_task_pushes_a_snapshot_to_a_supervisors_socket_and_not_to_an_agents():
    Queue.objects.create(key="chat.es", name="Chat ES")
    supervisor, agent = supervisor_make(), AgentFactory()

    async def scenario():
        watching, working = (WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/agent/")
                             for _ in range(2))
        watching.scope["user"], working.scope["user"] = supervisor, agent
        assert (await watching.connect())[0] and (await working.connect())[0]
        await sync_to_async(tasks.supervisor_live_push)()
        await sync_to_async(flush)()
        snapshot = await watching.receive_json_from(timeout=5)
        agent_got_nothing = await working.receive_nothing(timeout=0.5)
        await watching.disconnect()
        await working.disconnect()
        return snapshot, agent_got_nothing

    snapshot, agent_got_nothing = async_to_sync(scenario)()

    assert snapshot["type"] == "supervisor.snapshot"
    assert [queue["key"] for queue in snapshot["queues"]] == ["chat.es"]
    assert {"at", "agents", "agents_by_presence", "at_risk"} <= snapshot.keys()
    assert agent_got_nothing


# --- admin ------------------------------------------------------------------------------------


def macro_data(body: str) -> dict[str, str]:
    return {"shortcut": "sizes", "title": "Sizes", "language": "en", "body": body, "is_active": "on"}


def test_the_macro_form_refuses_an_unknown_variable_by_name():
    form = MacroForm(data=macro_data("Hi {{ contact.first_name }}, your size is {{ contact.shoe_size }}."))

    assert not form.is_valid()
    [error] = form.errors["body"]
    assert "{{ contact.shoe_size }}" in error and "{{ contact.first_name }}" in error  # the known ones listed


def test_the_macro_form_takes_known_variables():
    assert MacroForm(data=macro_data("Hi {{contact.first_name}}, I am {{ agent.first_name }}.")).is_valid()


def test_the_admin_shows_the_error_on_the_page_instead_of_saving(admin_client):
    response = admin_client.post("/admin/conversations/macro/add/", macro_data("{{ contact.shoe_size }}"))

    assert response.status_code == 200
    assert "Unknown variable" in response.content.decode()
    assert not Macro.objects.filter(shortcut="sizes").exists()


def test_contact_reasons_are_in_the_admin(admin_client):
    ContactReason.objects.create(key="late_order", label="Late order")

    response = admin_client.get("/admin/conversations/contactreason/")

    assert response.status_code == 200 and "Late order" in response.content.decode()


# --- demo data --------------------------------------------------------------------------------


def test_demo_chat_data_is_idempotent_and_keeps_a_supervisors_edits():
    demo.demo_chat_ensure()
    counts = (ContactReason.objects.count(), Macro.objects.count())
    Macro.objects.filter(shortcut="greeting", language="es").update(body="Editado por un supervisor")

    demo.demo_chat_ensure()

    assert (ContactReason.objects.count(), Macro.objects.count()) == counts
    assert Macro.objects.get(shortcut="greeting", language="es").body == "Editado por un supervisor"
    keys = set(ContactReason.objects.values_list("key", flat=True))
    assert {"late_order", "refund", "courier_issue", "other"} <= keys
    # one shortcut, a text for any language and one in Spanish (#ccproactivecall ships with migration 0012)
    assert "credit" in Macro.objects.get(shortcut="latecredit", language="").body
    assert "crédito" in Macro.objects.get(shortcut="latecredit", language="es").body
    assert set(ContactReason.objects.filter(calls_enabled=True).values_list("key", flat=True)) == {
        "late_order", "missing_item"}


def test_every_demo_macro_passes_the_admins_validation():
    for shortcut, language, title, body in demo.MACROS:
        form = MacroForm(data={"shortcut": shortcut, "title": title, "language": language, "body": body})
        assert form.is_valid(), (shortcut, form.errors)
