"""Supervisors on the desk: every ongoing conversation listed and filtered, opened, joined with
a whisper, taken over; agents' presence set; orders on a desk page; desk links, not the admin."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversations import push as chat_push
from conversations import services
from conversations.models import Conversation, MessageDirection
from routing import push as routing_push
from routing import services as routing_services
from routing.models import AgentPresenceChange, ItemState, Presence, Queue, RoutingAudit, WorkItem
from tests.factories import AgentFactory, ContactFactory, OrderFactory, SupervisorFactory
from tests.routing.test_push import _listen, _received
from tests.scenarios import conversation_assigned, conversation_offered, online_agent
from timeline.models import OrderStatusChange, TimelineEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def layer(settings):
    """The Redis "core" layer under this test's own prefix (as tests/routing/test_push.py)."""
    import uuid

    from channels.layers import get_channel_layer

    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [settings.REDIS_URL], "prefix": f"test-{uuid.uuid4().hex[:8]}"},
    }}
    return get_channel_layer()


@pytest.fixture
def supervisor():
    return SupervisorFactory(first_name="Sara", last_name="Boss")


@pytest.fixture
def boss(client, supervisor):
    client.force_login(supervisor)
    return client


def _waiting_chat() -> Conversation:
    """A chat nobody can take (no agent speaks French): it waits in its queue."""
    Queue.objects.get_or_create(key="general", defaults={"name": "General"})
    return services.conversation_open(contact=ContactFactory(preferred_language="fr"), channel="chat")


def _listed(response) -> list[int]:
    return [int(n) for n in re.findall(r'data-testid="ongoing-row" data-conversation="(\d+)"',
                                       response.content.decode())]


# --- the list -------------------------------------------------------------------------------------


def test_the_list_shows_every_ongoing_conversation_with_its_state_agent_and_queue(boss):
    # given a chat assigned to Ana (full now), one offered to Olga, one nobody speaks the
    # language of (waiting), and a resolved one
    ana = online_agent(AgentFactory(first_name="Ana"),
                       capacity={"chat": 1, "messaging": 1, "email": 1, "voice": 1})
    assigned = conversation_assigned(ana)
    olga = online_agent(AgentFactory(first_name="Olga"))
    offered, _item = conversation_offered(olga)
    waiting = _waiting_chat()
    resolved = _waiting_chat()
    Conversation.objects.filter(pk=resolved.pk).update(status="resolved")

    # when the supervisor opens the page
    response = boss.get("/desk/supervise/")

    # then the three ongoing ones, newest first, each with its state and agent; not the resolved one
    assert response.status_code == 200
    assert _listed(response) == [waiting.pk, offered.pk, assigned.pk]
    html = response.content.decode()
    rows = dict(re.findall(r'data-conversation="(\d+)" data-state="(\w*)"', html))
    assert rows == {str(assigned.pk): "assigned", str(offered.pk): "offered", str(waiting.pk): "waiting"}
    assert re.findall(r'data-testid="ongoing-agent">([^<]*)<', html) == ["", "Olga", "Ana"]
    assert "<code>general</code>" in html


def test_the_list_filters_by_state_queue_and_agent(boss):
    waiting = _waiting_chat()
    agent = online_agent(AgentFactory())
    assigned = conversation_assigned(agent)
    Queue.objects.create(key="vip", name="VIP")
    WorkItem.objects.filter(conversation_id=waiting.pk).update(queue=Queue.objects.get(key="vip"))

    assert _listed(boss.get("/desk/supervise/", {"state": "waiting"})) == [waiting.pk]
    assert _listed(boss.get("/desk/supervise/", {"state": "assigned"})) == [assigned.pk]
    assert _listed(boss.get("/desk/supervise/", {"queue": "vip"})) == [waiting.pk]
    assert _listed(boss.get("/desk/supervise/", {"queue": "general"})) == [assigned.pk]
    assert _listed(boss.get("/desk/supervise/", {"agent": agent.user_id})) == [assigned.pk]
    # an unknown state is a readable refusal, not a 500
    assert boss.get("/desk/supervise/", {"state": "sleeping"}).status_code == 400


def test_the_list_pages_and_its_queries_do_not_grow_with_the_rows(boss, monkeypatch):
    monkeypatch.setattr("conversations.supervise_views.PAGE_SIZE", 3)
    agent = online_agent(AgentFactory())
    conversation_assigned(agent)
    _waiting_chat()
    with CaptureQueriesContext(connection) as few:
        boss.get("/desk/supervise/")
    for _ in range(4):
        _waiting_chat()
        conversation_assigned(agent)
    with CaptureQueriesContext(connection) as many:
        first = boss.get("/desk/supervise/")
    second = boss.get("/desk/supervise/", {"page": 2})

    assert len(_listed(first)) == 3 and len(_listed(second)) == 3
    assert set(_listed(first)).isdisjoint(_listed(second))
    assert len(many.captured_queries) == len(few.captured_queries)  # no query per row


def test_agents_are_refused_the_supervisors_pages(client):
    agent = online_agent(AgentFactory())
    conversation = conversation_assigned(agent)
    client.force_login(agent.user)

    assert client.get("/desk/supervise/").status_code == 403
    assert client.get(f"/desk/supervise/{conversation.pk}/").status_code == 403
    assert client.post(f"/desk/supervise/{conversation.pk}/take-over/").status_code == 403
    assert client.post(f"/desk/supervise/{conversation.pk}/whisper/", {"body": "x"}).status_code == 403
    assert client.get("/desk/supervise/agents/").status_code == 403
    assert client.post(f"/desk/supervise/agents/{agent.user_id}/presence/",
                       {"presence": "offline"}).status_code == 403
    agent.refresh_from_db()
    assert agent.presence == Presence.ONLINE
    assert WorkItem.objects.get(conversation_id=conversation.pk).agent_id == agent.pk


# --- open, join, take over ---------------------------------------------------------------------------


def test_a_supervisor_opens_a_conversation_with_its_thread_notes_and_timeline(boss):
    agent = online_agent(AgentFactory())
    conversation = conversation_assigned(agent)
    services.agent_reply(conversation_id=conversation.pk, user=agent.user, body="Hola, te ayudo")
    services.note_add(conversation_id=conversation.pk, user=agent.user, body="VIP, be nice")

    response = boss.get(f"/desk/supervise/{conversation.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Hola, te ayudo" in html and "VIP, be nice" in html
    assert f'hx-get="/desk/contacts/{conversation.contact_id}/timeline/"' in html
    assert f'href="/desk/c/{conversation.pk}/"' in html  # the live workspace view of it
    assert 'data-testid="take-over"' in html and 'data-testid="whisper-form"' in html


def test_a_whisper_is_a_note_the_agent_gets_live_and_a_retry_stores_once(
        boss, layer, django_capture_on_commit_callbacks):
    agent = online_agent(AgentFactory())
    conversation = conversation_assigned(agent)
    staff = _listen(layer, chat_push.conversation_staff_group(conversation.pk))
    public = _listen(layer, chat_push.conversation_group(conversation.pk))

    for _ in range(2):  # a double click, or a retry after a timeout
        with django_capture_on_commit_callbacks(execute=True):
            response = boss.post(f"/desk/supervise/{conversation.pk}/whisper/",
                                 {"body": "Offer a coupon", "client_id": "w-1"})
        assert response.status_code == 302

    notes = list(conversation.messages.filter(body="Offer a coupon"))
    assert [note.direction for note in notes] == [MessageDirection.NOTE]
    pushed = [m for m in _received(layer, staff) if m["type"] == "chat.message"]
    assert [(m["body"], m["direction"]) for m in pushed] == [("Offer a coupon", "note")]
    assert [m for m in _received(layer, public) if m.get("body") == "Offer a coupon"] == []


def test_taking_over_assigns_the_conversation_to_the_supervisor_once(
        boss, supervisor, layer, django_capture_on_commit_callbacks):
    agent = online_agent(AgentFactory())
    conversation = conversation_assigned(agent)
    mine = online_agent(supervisor)
    previous_agent = _listen(layer, routing_push.agent_group(agent.user_id))
    events_before = TimelineEvent.objects.filter(contact_id=conversation.contact_id).count()

    for _ in range(2):  # sent again: nothing more happens
        with django_capture_on_commit_callbacks(execute=True):
            response = boss.post(f"/desk/supervise/{conversation.pk}/take-over/")
        assert response.status_code == 302 and response["Location"] == f"/desk/c/{conversation.pk}/"

    item = WorkItem.objects.get(conversation_id=conversation.pk, state=ItemState.ASSIGNED)
    assert item.agent_id == mine.pk
    conversation.refresh_from_db()
    assert conversation.assignee_id == supervisor.pk
    kinds = list(TimelineEvent.objects.filter(contact_id=conversation.contact_id)
                 .order_by("pk").values_list("kind", flat=True)[events_before:])
    assert kinds == ["conversation.transferred", "conversation.assigned"]
    # the previous agent's workspace is told the item left them
    assert [(m["event"], m["conversation_id"]) for m in _received(layer, previous_agent)
            if m["type"] == "routing.item"] == [("transferred", conversation.pk)]


def test_taking_over_needs_the_supervisor_online_as_an_agent(boss, supervisor):
    agent = online_agent(AgentFactory())
    conversation = conversation_assigned(agent)

    no_profile = boss.post(f"/desk/supervise/{conversation.pk}/take-over/")
    online_agent(supervisor)
    routing_services.presence_set(user=supervisor, presence=Presence.AWAY)
    away = boss.post(f"/desk/supervise/{conversation.pk}/take-over/")

    assert no_profile.status_code == 400 and "agent profile" in no_profile.content.decode()
    assert away.status_code == 400 and "online" in away.content.decode()
    assert WorkItem.objects.get(conversation_id=conversation.pk, state=ItemState.ASSIGNED).agent_id == agent.pk


# --- presence ----------------------------------------------------------------------------------------


def test_a_supervisor_sets_an_agents_presence_audited_and_pushed(
        boss, supervisor, layer, django_capture_on_commit_callbacks):
    agent = online_agent(AgentFactory())
    conversation = conversation_assigned(agent)
    channel = _listen(layer, routing_push.agent_group(agent.user_id))

    with django_capture_on_commit_callbacks(execute=True):
        response = boss.post(f"/desk/supervise/agents/{agent.user_id}/presence/", {"presence": "offline"})
    with django_capture_on_commit_callbacks(execute=True):
        again = boss.post(f"/desk/supervise/agents/{agent.user_id}/presence/", {"presence": "offline"})

    assert response.status_code == again.status_code == 302
    agent.refresh_from_db()
    assert agent.presence == Presence.OFFLINE
    # offline returns the agent's work to the queue, as routing's presence_set defines
    assert WorkItem.objects.get(conversation_id=conversation.pk).state == ItemState.WAITING
    [audit] = RoutingAudit.objects.filter(object_id=str(agent.pk))
    assert (audit.actor_id, audit.before, audit.after) == (supervisor.pk, {"presence": "online"},
                                                            {"presence": "offline"})
    presence_pushes = [m for m in _received(layer, channel) if m["type"] == "routing.presence"]
    assert [m["presence"] for m in presence_pushes] == ["offline"]
    # the presence log says who: the agent went online, the supervisor set them offline (once)
    assert list(AgentPresenceChange.objects.filter(agent=agent).order_by("at", "id")
                .values_list("presence", "reason")) == [("online", "agent"), ("offline", "supervisor")]


def test_the_agents_page_lists_agents_with_their_presence(boss):
    agent = online_agent(AgentFactory(username="zoe"))

    response = boss.get("/desk/supervise/agents/")

    assert response.status_code == 200
    assert f'data-agent="{agent.user_id}"' in response.content.decode()
    assert boss.post("/desk/supervise/agents/999999/presence/", {"presence": "away"}).status_code == 404
    assert boss.post(f"/desk/supervise/agents/{agent.user_id}/presence/",
                     {"presence": "asleep"}).status_code == 400


# --- orders and links -----------------------------------------------------------------------------------


def test_an_order_has_a_readable_desk_page(client):
    agent = AgentFactory()
    client.force_login(agent)
    placed = timezone.now() - timedelta(hours=1)
    items = [{"name": "Pizza", "quantity": 2, "unit_price": "9.50"},
             {"sku": "cola", "quantity": 1, "price": "2.00"}]
    order = OrderFactory(external_id="O-42", placed_at=placed, items=items,
                         promised_at=placed + timedelta(minutes=30), status="delivered",
                         delivered_at=placed + timedelta(minutes=40))
    OrderStatusChange.objects.create(order=order, status="created", occurred_at=order.placed_at)
    OrderStatusChange.objects.create(order=order, status="delivered", occurred_at=order.delivered_at)
    conversation = services.conversation_open(contact=order.customer, channel="email")

    response = client.get(f"/desk/orders/{order.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "O-42" in html and "Pizza" in html and "cola" in html and "25.50 EUR" in html
    assert html.count('data-testid="order-item"') == 2
    assert 'data-testid="order-promised"' in html and 'data-testid="order-delivered"' in html
    history = html.split('data-testid="order-history"')[1].split("</ol>")[0]
    assert history.index("Created") < history.index("Delivered")
    assert f'href="/desk/contacts/{order.customer_id}/"' in html
    assert f'href="/desk/c/{conversation.pk}/"' in html
    assert client.get("/desk/orders/999999/").status_code == 404


def test_the_live_view_links_conversations_to_the_supervisors_page_not_the_admin(boss):
    Queue.objects.get_or_create(key="general", defaults={"name": "General", "target_wait_seconds": 1})
    Queue.objects.filter(key="general").update(target_wait_seconds=1)
    waiting = _waiting_chat()
    WorkItem.objects.filter(conversation_id=waiting.pk).update(enqueued_at=timezone.now() - timedelta(minutes=5))

    html = boss.get("/desk/live/").content.decode()

    assert "/admin/" not in html
    assert 'data-conversation-url="/desk/supervise/0/"' in html
    assert f'href="/desk/supervise/{waiting.pk}/"' in html


def test_the_workspace_sidebar_links_orders_to_their_desk_page(client):
    agent = online_agent(AgentFactory())
    conversation = conversation_assigned(agent)
    order = OrderFactory(customer=conversation.contact, external_id="O-7")
    client.force_login(agent.user)

    html = client.get(f"/desk/conversations/{conversation.pk}/contact/").content.decode()

    assert re.search(rf'<a href="/desk/orders/{order.pk}/"[^>]*data-testid="order-link">O-7</a>', html)
    assert "/admin/" not in html and "/api/" not in html


@pytest.mark.parametrize("bad", ["²", "١٢", "99999999999999999999", "-1", "x"])
def test_a_filter_or_page_that_is_no_id_lists_as_if_unset(boss, bad):
    # "²".isdigit() is true and int("²") fails; twenty digits overflow the column: both were a 500.
    chat = _waiting_chat()
    response = boss.get("/desk/supervise/", {"agent": bad, "page": bad})
    assert response.status_code == 200
    assert chat.pk in _listed(response)
