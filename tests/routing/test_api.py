"""REST API v1 for routing: agents' presence, heartbeat, own items and offers; supervisors'
queue figures and work items; every error in the one error shape."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from routing import services
from routing.models import AgentProfile, ItemState, Presence, Queue, RoutingRule, WorkItem
from tests.factories import AgentProfileFactory, ConversationFactory, SupervisorFactory, UserFactory

pytestmark = pytest.mark.django_db

ROUTING = "/api/v1/routing/"
PRESENCE = f"{ROUTING}presence/"
HEARTBEAT = f"{ROUTING}heartbeat/"
MY_ITEMS = f"{ROUTING}me/items/"
ITEMS = f"{ROUTING}items/"
STATS = f"{ROUTING}queues/stats/"


def item_url(item_id: int, verb: str = "") -> str:
    return f"{ITEMS}{item_id}/{verb + '/' if verb else ''}"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def error(response) -> dict:
    return response.json()["error"]


def online_agent(**fields) -> AgentProfile:
    defaults = {"languages": ["es"], "contact_kinds": ["customer"],
                "capacity": {"chat": 2, "messaging": 2, "email": 5, "voice": 1}}
    profile = AgentProfileFactory(**{**defaults, **fields})
    return services.presence_set(user=profile.user, presence=Presence.ONLINE)


def enqueue(**attributes) -> WorkItem:
    """A work item for a real conversation: accepting and transferring it are the conversation's
    use cases too, which update the conversation."""
    return services.work_item_enqueue(
        conversation_id=ConversationFactory().pk, channel="chat",
        attributes={"language": "es", "contact_kind": "customer", **attributes},
    )


@pytest.fixture
def chat_es() -> Queue:
    queue = Queue.objects.create(key="chat.es", name="Chat ES")
    RoutingRule.objects.create(name="chat by language", position=10, queue_key="chat.{language}",
                               condition={"attribute": "channel", "op": "eq", "value": "chat"})
    return queue


@pytest.fixture
def supervisor():
    return SupervisorFactory()


# --- Authentication and who may call what ----------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", PRESENCE), ("post", PRESENCE), ("post", HEARTBEAT), ("get", MY_ITEMS),
        ("post", item_url(1, "accept")), ("post", item_url(1, "decline")),
        ("post", item_url(1, "transfer")), ("get", ITEMS), ("get", item_url(1)), ("get", STATS),
    ],
)
def test_an_anonymous_caller_gets_401_in_the_error_shape(api_client, method, url):
    response = getattr(api_client, method)(url, {}, format="json")

    assert response.status_code == 401
    assert error(response)["code"] == "not_authenticated"


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("get", PRESENCE, None), ("post", PRESENCE, {"presence": "online"}), ("post", HEARTBEAT, None),
        ("get", MY_ITEMS, None), ("post", "accept", None), ("post", "decline", {}),
        ("post", "transfer", {"queue": "chat.es"}),
    ],
)
@pytest.mark.parametrize("account", [{}, {"is_staff": True}], ids=["plain", "staff"])
def test_a_user_without_an_agent_profile_is_refused(chat_es, method, url, body, account):
    online_agent()
    item = enqueue()
    if not url.startswith("/"):
        url = item_url(item.pk, url)

    response = getattr(client_for(UserFactory(**account)), method)(url, body, format="json")

    assert response.status_code == 403
    assert error(response)["code"] == "permission_denied"
    item.refresh_from_db()
    assert item.state == ItemState.OFFERED


@pytest.mark.parametrize("url", [STATS, ITEMS, "detail"])
def test_supervisor_reads_are_403_for_agents_and_staff_and_200_for_supervisors(
        chat_es, agent_client, supervisor, url):
    item = enqueue()
    url = item_url(item.pk) if url == "detail" else url

    refused = agent_client.get(url)
    staff = client_for(UserFactory(is_staff=True)).get(url)  # staff alone is not a supervisor
    allowed = client_for(supervisor).get(url)

    for response in (refused, staff):
        assert response.status_code == 403
        assert error(response)["code"] == "permission_denied"
    assert allowed.status_code == 200


# --- Presence and heartbeat --------------------------------------------------------------------


def test_presence_round_trip_shows_capacity_and_the_load_taken_on_coming_online(chat_es):
    profile = AgentProfileFactory(languages=["es"], capacity={"chat": 2, "email": 5})
    client = client_for(profile.user)
    enqueue()  # waits: nobody is online

    online = client.post(PRESENCE, {"presence": "online"}, format="json")
    read_back = client.get(PRESENCE)

    assert online.status_code == 200
    body = online.json()
    assert body["presence"] == "online" and body["presence_since"] is not None
    # A channel added after the profile was saved (task) takes its default capacity.
    assert body["capacity"] == {"chat": 2, "messaging": 0, "email": 5, "voice": 0, "task": 5}
    assert body["load"] == {"chat": 1, "messaging": 0, "email": 0, "voice": 0, "task": 0}
    assert read_back.json() == body

    away = client.post(PRESENCE, {"presence": "away"}, format="json")

    assert away.status_code == 200
    # Away returns the offer that was not answered yet.
    assert away.json()["presence"] == "away" and away.json()["load"]["chat"] == 0
    assert WorkItem.objects.get().state == ItemState.WAITING


def test_going_away_with_reassign_returns_assigned_work_too(chat_es):
    agent = online_agent()
    item = enqueue()
    services.offer_accept(item_id=item.pk, user=agent.user)
    client = client_for(agent.user)

    kept = client.post(PRESENCE, {"presence": "away"}, format="json")
    assert kept.json()["load"]["chat"] == 1
    client.post(PRESENCE, {"presence": "online"}, format="json")
    returned = client.post(PRESENCE, {"presence": "away", "reassign": True}, format="json")

    assert returned.status_code == 200 and returned.json()["load"]["chat"] == 0
    item.refresh_from_db()
    assert item.state == ItemState.WAITING and item.agent_id is None


@pytest.mark.parametrize(
    ("body", "field"),
    [({"presence": "busy"}, "presence"), ({}, "presence"), ({"presence": "online", "colour": "red"}, "colour"),
     ({"presence": "away", "reassign": "maybe"}, "reassign")],
    ids=["unknown-presence", "missing", "unknown-field", "bad-reassign"],
)
def test_a_bad_presence_is_a_400_naming_the_field_and_changes_nothing(agent_client, agent, body, field):
    response = agent_client.post(PRESENCE, body, format="json")

    assert response.status_code == 400
    assert error(response)["code"] == "invalid"
    assert field in error(response)["details"]
    assert AgentProfile.objects.get(user=agent).presence == Presence.OFFLINE


def test_a_heartbeat_records_the_time_and_answers_the_presence(agent):
    services.presence_set(user=agent, presence=Presence.ONLINE)
    long_ago = timezone.now() - timedelta(hours=1)
    AgentProfile.objects.filter(user=agent).update(last_heartbeat_at=long_ago)

    response = client_for(agent).post(HEARTBEAT)

    assert response.status_code == 200
    assert response.json()["presence"] == "online"
    profile = AgentProfile.objects.get(user=agent)
    assert profile.last_heartbeat_at > long_ago
    assert response.json()["last_heartbeat_at"] == profile.last_heartbeat_at.isoformat().replace("+00:00", "Z")


# --- My items --------------------------------------------------------------------------------------


def test_my_items_are_my_offers_and_assignments_oldest_first_in_cursor_pages(chat_es):
    me = online_agent(capacity={"chat": 3})
    offered, assigned = enqueue(), enqueue()
    services.offer_accept(item_id=assigned.pk, user=me.user)
    online_agent(capacity={"chat": 3})
    someone_elses = enqueue()  # the other agent is longer idle
    closed = enqueue()
    services.work_item_complete(item_id=closed.pk)
    client = client_for(me.user)

    first = client.get(MY_ITEMS, {"page_size": 1})
    second = client.get(first.json()["next"])

    assert someone_elses.agent_id != me.pk and closed.agent_id == me.pk
    assert [row["id"] for row in first.json()["results"]] == [offered.pk]
    assert [row["id"] for row in second.json()["results"]] == [assigned.pk]
    assert second.json()["next"] is None
    offer = first.json()["results"][0]
    assert offer["state"] == "offered" and offer["queue"] == "chat.es" and offer["agent"] == me.pk
    assert offer["offer_expires_at"] is not None
    assert second.json()["results"][0]["offer_expires_at"] is None


# --- Accept and decline ------------------------------------------------------------------------------


def test_accepting_an_offer_assigns_it(chat_es):
    agent = online_agent()
    item = enqueue()

    response = client_for(agent.user).post(item_url(item.pk, "accept"))

    assert response.status_code == 200
    assert response.json()["state"] == "assigned" and response.json()["assigned_at"] is not None
    assert list(item.events.order_by("id").values_list("kind", flat=True)) == ["queued", "offered", "accepted"]


def test_accepting_twice_changes_nothing_and_someone_elses_offer_is_a_404(chat_es):
    first, second = online_agent(), online_agent()
    item = enqueue()
    holder, other = (first, second) if item.agent_id == first.pk else (second, first)
    assert client_for(holder.user).post(item_url(item.pk, "accept")).status_code == 200

    again = client_for(holder.user).post(item_url(item.pk, "accept"))  # a retry after a timeout
    not_mine = client_for(other.user).post(item_url(item.pk, "accept"))
    decline_accepted = client_for(holder.user).post(item_url(item.pk, "decline"), {}, format="json")

    assert (again.status_code, again.json()["id"]) == (200, item.pk)
    assert (decline_accepted.status_code, error(decline_accepted)["code"]) == (409, "not_yours")
    assert (not_mine.status_code, error(not_mine)["code"]) == (404, "not_found")  # as if there were none
    item.refresh_from_db()
    assert item.state == ItemState.ASSIGNED and item.agent_id == holder.pk


@pytest.mark.parametrize("verb", ["accept", "decline", "transfer"])
@pytest.mark.parametrize("item_id", ["999999", "99999999999999999999", "abc"])
def test_an_unknown_item_is_a_404(agent_client, verb, item_id):
    body = {"queue": "chat.es"} if verb == "transfer" else {}

    response = agent_client.post(f"{ITEMS}{item_id}/{verb}/", body, format="json")

    assert response.status_code == 404
    assert error(response)["code"] == "not_found"


def test_declining_sends_the_offer_to_the_next_agent_with_the_reason_recorded(chat_es):
    first, second = online_agent(), online_agent()
    item = enqueue()
    declining, other = (first, second) if item.agent_id == first.pk else (second, first)

    response = client_for(declining.user).post(
        item_url(item.pk, "decline"), {"reason": "Not my area"}, format="json")

    assert response.status_code == 200
    assert response.json()["agent"] == other.pk and response.json()["state"] == "offered"
    declined = item.events.get(kind="declined")
    assert declined.agent_id == declining.pk and declined.detail == {"reason": "Not my area"}


@pytest.mark.parametrize(
    ("body", "field"), [({"reason": "x" * 201}, "reason"), ({"why": "busy"}, "why")],
    ids=["reason-too-long", "unknown-field"],
)
def test_a_bad_decline_is_a_400_and_keeps_the_offer(chat_es, body, field):
    agent = online_agent()
    item = enqueue()

    response = client_for(agent.user).post(item_url(item.pk, "decline"), body, format="json")

    assert response.status_code == 400
    assert field in error(response)["details"]
    item.refresh_from_db()
    assert item.state == ItemState.OFFERED and item.agent_id == agent.pk


# --- Transfer ----------------------------------------------------------------------------------------


def test_an_agent_transfers_their_item_to_another_queue(chat_es):
    Queue.objects.create(key="email.es", name="Email ES")
    agent = online_agent()
    item = enqueue()
    client_for(agent.user).post(item_url(item.pk, "accept"))

    response = client_for(agent.user).post(item_url(item.pk, "transfer"), {"queue": "email.es"}, format="json")

    assert response.status_code == 200
    assert response.json()["queue"] == "email.es"
    assert item.events.filter(kind="transferred", detail__to_queue="email.es").exists()


def test_an_agent_transfers_their_item_to_another_agent(chat_es):
    holder = online_agent()
    item = enqueue()
    services.offer_accept(item_id=item.pk, user=holder.user)
    colleague = online_agent()

    response = client_for(holder.user).post(item_url(item.pk, "transfer"), {"agent": colleague.pk},
                                            format="json")

    assert response.status_code == 200
    assert response.json()["agent"] == colleague.pk and response.json()["state"] == "assigned"


def test_a_supervisor_transfers_any_open_item_to_an_agent_with_room(chat_es, supervisor):
    holder = online_agent(capacity={"chat": 1})
    item = enqueue()
    assert item.agent_id == holder.pk
    full = online_agent(capacity={"chat": 0, "email": 5})
    free = online_agent(capacity={"chat": 1})
    client = client_for(supervisor)  # staff, with no agent profile

    refused = client.post(item_url(item.pk, "transfer"), {"agent": full.pk}, format="json")
    moved = client.post(item_url(item.pk, "transfer"), {"agent": free.pk}, format="json")

    assert (refused.status_code, error(refused)["code"]) == (409, "agent_unavailable")
    assert moved.status_code == 200
    assert moved.json()["agent"] == free.pk and moved.json()["state"] == "assigned"
    transferred = WorkItem.objects.get(pk=item.pk).events.get(kind="transferred")
    assert transferred.detail == {"to_agent": free.pk, "by": f"user:{supervisor.pk}"}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "transfer_target"),
        ({"queue": "chat.es", "agent": 1}, 400, "transfer_target"),
        ({"agent": "someone"}, 400, "invalid"),
        ({"queue": "chat.es", "to": "x"}, 400, "invalid"),
        ({"queue": "nowhere"}, 404, "not_found"),
        ({"agent": 999999}, 404, "not_found"),
    ],
    ids=["neither", "both", "bad-agent", "unknown-field", "unknown-queue", "unknown-agent"],
)
def test_a_bad_transfer_is_refused_and_moves_nothing(chat_es, body, status, code):
    agent = online_agent()
    item = enqueue()
    client_for(agent.user).post(item_url(item.pk, "accept"))

    response = client_for(agent.user).post(item_url(item.pk, "transfer"), body, format="json")

    assert response.status_code == status
    assert error(response)["code"] == code
    item.refresh_from_db()
    assert (item.queue_id, item.agent_id, item.state) == (chat_es.pk, agent.pk, ItemState.ASSIGNED)


def test_transferring_someone_elses_item_is_a_404_and_a_closed_one_a_409(chat_es):
    holder, other = online_agent(), online_agent(capacity={"chat": 0, "email": 5})
    item = enqueue()
    assert item.agent_id == holder.pk

    not_mine = client_for(other.user).post(item_url(item.pk, "transfer"), {"queue": "chat.es"}, format="json")
    services.work_item_complete(item_id=item.pk)
    closed = client_for(holder.user).post(item_url(item.pk, "transfer"), {"queue": "chat.es"}, format="json")

    assert (not_mine.status_code, error(not_mine)["code"]) == (404, "not_found")
    # Acting on a conversation needs it assigned to you now, whichever door: the desk's rule.
    assert (closed.status_code, error(closed)["code"]) == (404, "not_found")


# --- Supervisors: items and queue figures --------------------------------------------------------------


def _work_item_filter_cases():
    return [
        ("state", lambda items, agents: "assigned", lambda items: [items["assigned"]]),
        ("queue", lambda items, agents: "vip", lambda items: [items["vip"]]),
        ("agent", lambda items, agents: agents[0].pk, lambda items: [items["assigned"]]),
    ]


@pytest.mark.parametrize(("name", "value", "expected"), _work_item_filter_cases())
def test_work_item_filters_keep_only_matching_items(chat_es, supervisor, name, value, expected):
    Queue.objects.create(key="vip", name="VIP")
    RoutingRule.objects.create(name="vip", position=1, queue_key="vip",
                               condition={"attribute": "custom.vip", "op": "eq", "value": True})
    agents = [online_agent(capacity={"chat": 1})]
    items = {"assigned": enqueue(), "waiting": enqueue(), "vip": enqueue(**{"custom.vip": True})}
    services.offer_accept(item_id=items["assigned"].pk, user=agents[0].user)

    response = client_for(supervisor).get(ITEMS, {name: value(items, agents)})

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [item.pk for item in expected(items)]


def test_a_bad_filter_is_a_400(supervisor):
    response = client_for(supervisor).get(ITEMS, {"state": "lost"})

    assert response.status_code == 400
    assert "state" in error(response)["details"]


def test_work_items_come_newest_first_and_one_shows_its_history(chat_es, supervisor):
    agent = online_agent()
    older, newer = enqueue(), enqueue()
    services.offer_accept(item_id=older.pk, user=agent.user)
    client = client_for(supervisor)

    listed = client.get(ITEMS)
    detail = client.get(item_url(older.pk))

    assert [row["id"] for row in listed.json()["results"]] == [newer.pk, older.pk]
    body = detail.json()
    assert body["id"] == older.pk and body["rule"] == "chat by language"
    assert [(event["kind"], event["queue"]) for event in body["events"]] == [
        ("queued", "chat.es"), ("offered", "chat.es"), ("accepted", "chat.es")]
    assert body["events"][1]["agent"] == agent.pk


def test_listing_work_items_costs_the_same_queries_for_one_or_many(chat_es, supervisor):
    client = client_for(supervisor)
    client.get(ITEMS)  # the caller's permissions are read once, then cached on the user

    def list_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(ITEMS).status_code == 200
        return len(queries)

    online_agent(capacity={"chat": 1})
    enqueue()
    one = list_queries()
    for _ in range(4):
        enqueue()

    assert list_queries() == one


def test_an_unknown_item_is_a_404_for_supervisors_too(supervisor):
    response = client_for(supervisor).get(item_url(999999))

    assert response.status_code == 404
    assert error(response)["code"] == "not_found"


def test_queue_stats_answer_one_row_per_active_queue(chat_es, supervisor):
    Queue.objects.create(key="retired", name="Retired", is_active=False)
    enqueue()

    response = client_for(supervisor).get(STATS)

    assert response.status_code == 200
    (row,) = response.json()
    assert row["key"] == "chat.es" and row["waiting"] == 1 and row["agents_online"] == 0
    assert row["service_level_today"] is None
    assert (row["answer_seconds_today"], row["abandoned_today"], row["abandonment_today"]) == (None, 0, None)
