"""Every write a person may send again (after a timeout, a dropped connection, a double
click) has one effect: a message with its client id is stored once, from the desk, the API or
the widget; accept, decline, transfer and resolve done twice do it once and answer as the first
time did; status changes, presence, and contact edits, merges and creations through the API have
one effect by nature (a merge or a creation sent again is answered 409)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from conversations import services, widget
from conversations.models import ContactReason, Conversation, ConversationStatus, Message, MessageDirection
from routing import services as routing
from routing.models import ItemState, Presence, Queue, WorkItem, WorkItemEvent
from supportdesk.errors import Conflict
from tests.conversations import test_workspace
from tests.conversations.test_workspace import HTMX, _assigned, _offered, _supervisor
from tests.factories import AgentProfileFactory, ContactFactory, UserFactory
from timeline.models import Contact, TimelineEvent

pytestmark = pytest.mark.django_db

# The workspace tests' set-up: a queue, an online agent, and the desk signed in as them.
queue, agent_profile, desk = test_workspace.queue, test_workspace.agent_profile, test_workspace.desk


@pytest.fixture
def api(agent_profile):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(agent_profile.user)
    return api


def _effects(conversation_id: int) -> tuple[int, int, int, int]:
    """Everything a write may leave behind: messages, the numbering, timeline and routing history."""
    conversation = Conversation.objects.get(pk=conversation_id)
    return (Message.objects.filter(conversation_id=conversation_id).count(), conversation.last_message_sequence,
            TimelineEvent.objects.filter(contact_id=conversation.contact_id).count(),
            WorkItemEvent.objects.filter(item__conversation_id=conversation_id).count())


# --- messages from the desk ---------------------------------------------------------------------------


@pytest.mark.parametrize("note", [False, True], ids=["reply", "note"])
def test_a_desk_message_sent_again_with_its_client_id_is_stored_once(desk, agent_profile, note):
    conversation = _assigned(agent_profile.user)
    form = {"body": "Lo miro ahora mismo", "client_id": "desk-1", **({"note": "1"} if note else {})}
    url = f"/desk/conversations/{conversation.pk}/messages/"

    first = desk.post(url, form, **HTMX)
    after_first = _effects(conversation.pk)
    again = desk.post(url, form, **HTMX)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.content == first.content  # the same message, as the composer shows it
    assert _effects(conversation.pk) == after_first
    message = Message.objects.get(conversation=conversation)
    assert (message.client_id, message.sequence) == ("desk-1", 1)


def test_a_client_id_used_again_for_another_desk_message_is_refused(desk, agent_profile):
    conversation = _assigned(agent_profile.user)
    url = f"/desk/conversations/{conversation.pk}/messages/"
    desk.post(url, {"body": "Hola", "client_id": "desk-1"}, **HTMX)

    other_text = desk.post(url, {"body": "Adiós", "client_id": "desk-1"}, **HTMX)
    as_a_note = desk.post(url, {"body": "Hola", "client_id": "desk-1", "note": "1"}, **HTMX)

    for refused in (other_text, as_a_note):
        assert refused.status_code == 409 and refused["HX-Retarget"] == "#desk-flash"
        assert b"client_id desk-1 was used for another message already" in refused.content
    assert list(Message.objects.filter(conversation=conversation).values_list("body", flat=True)) == ["Hola"]


def test_a_desk_message_without_a_client_id_is_stored_each_time(desk, agent_profile):
    conversation = _assigned(agent_profile.user)
    url = f"/desk/conversations/{conversation.pk}/messages/"

    answers = [desk.post(url, {"body": "ok"}, **HTMX).status_code for _ in range(2)]

    assert answers == [201, 201]
    assert Message.objects.filter(conversation=conversation).count() == 2


# --- messages through the API -------------------------------------------------------------------------


@pytest.mark.parametrize("direction", ["out", "note"])
def test_an_api_message_sent_again_with_its_client_id_answers_200_with_the_first(api, agent_profile, direction):
    conversation = _assigned(agent_profile.user)
    url = f"/api/v1/conversations/{conversation.pk}/messages/"
    payload = {"direction": direction, "body": "Your order is on its way", "client_id": "api-7"}

    first = api.post(url, payload, format="json")
    after_first = _effects(conversation.pk)
    again = api.post(url, payload, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json() and first.json()["client_id"] == "api-7"
    assert _effects(conversation.pk) == after_first


@pytest.mark.parametrize("change", [{"body": "Something else"}, {"direction": "note"}])
def test_an_api_client_id_used_for_another_message_is_a_409_in_the_error_shape(api, agent_profile, change):
    conversation = _assigned(agent_profile.user)
    url = f"/api/v1/conversations/{conversation.pk}/messages/"
    payload = {"direction": "out", "body": "Your order is on its way", "client_id": "api-7"}
    api.post(url, payload, format="json")

    response = api.post(url, {**payload, **change}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "client_id_reused"
    assert Message.objects.filter(conversation=conversation).count() == 1


@pytest.mark.parametrize("client_id", ["has spaces", "x" * 65, "", ["a"], {"id": 1}])
def test_an_api_client_id_that_is_not_one_is_a_400(api, agent_profile, client_id):
    conversation = _assigned(agent_profile.user)

    response = api.post(f"/api/v1/conversations/{conversation.pk}/messages/",
                        {"direction": "out", "body": "Hi", "client_id": client_id}, format="json")

    assert response.status_code == 400
    assert not Message.objects.filter(conversation=conversation).exists()


# --- whose client id ----------------------------------------------------------------------------------


def test_client_ids_belong_to_their_sender_so_nobody_takes_or_gets_another_ones_message(agent_profile):
    session = widget.Session(contact_id=ContactFactory().pk)
    visitors = services.visitor_message_send(session=session, body="Hola", client_id="same")
    conversation = Conversation.objects.get(pk=visitors.conversation_id)
    supervisor = _supervisor()

    replies = [services.message_create(conversation=conversation, direction=MessageDirection.OUTBOUND,
                                       body="Hola", author=author, client_id="same")
               for author in (agent_profile.user, supervisor)]
    visitor_again = services.visitor_message_send(session=session, body="Hola", client_id="same",
                                                  conversation_id=conversation.pk)

    assert visitor_again.pk == visitors.pk
    assert not any(reply.replayed for reply in replies)
    assert len({visitors.pk, *(reply.pk for reply in replies)}) == 3
    assert [m.sequence for m in Message.objects.filter(conversation=conversation)] == [1, 2, 3]


def test_a_visitor_client_id_used_for_another_message_is_refused():
    session = widget.Session(visitor="v-1")
    first = services.visitor_message_send(session=session, body="Hello", client_id="c1")

    for conversation_id in (first.conversation_id, None):  # the socket's hot path and the full path
        with pytest.raises(Conflict) as refused:
            services.visitor_message_send(session=session, body="Something else", client_id="c1",
                                          conversation_id=conversation_id)
        assert refused.value.code == "client_id_reused"
    assert Message.objects.filter(conversation_id=first.conversation_id).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_reply_sent_twice_at_the_same_moment_is_stored_once(agent_profile):
    conversation = _assigned(agent_profile.user)
    answers: list[Message] = []

    def send() -> None:
        try:
            answers.append(services.agent_reply(conversation_id=conversation.pk, user=agent_profile.user,
                                                body="Ahora mismo", client_id="twin"))
        finally:
            connections.close_all()

    # Both senders pass the client-id check, then queue behind a lock on the conversation's row,
    # so the second one's insert meets the first one's committed row.
    threads = [threading.Thread(target=send) for _ in range(2)]
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        try:
            cursor.execute("SELECT 1 FROM conversations_conversation WHERE id = %s FOR UPDATE", [conversation.pk])
            for thread in threads:
                thread.start()
            waiting = 0
            while waiting < 2 and all(thread.is_alive() for thread in threads):
                cursor.execute("SELECT pg_stat_clear_snapshot()")  # else a transaction sees one snapshot
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                               "AND datname = current_database() AND query LIKE %s", ["%last_message_sequence%"])
                waiting = cursor.fetchone()[0]
        finally:
            cursor.execute("COMMIT")
            for thread in threads:
                if thread.ident is not None:  # started
                    thread.join()

    assert len(answers) == 2 and answers[0].pk == answers[1].pk
    assert sorted(answer.replayed for answer in answers) == [False, True]
    assert list(Message.objects.filter(conversation=conversation).values_list("sequence", flat=True)) == [1]
    assert Conversation.objects.get(pk=conversation.pk).last_message_sequence == 1


# --- the other writes a person may send twice ---------------------------------------------------------


def test_accepting_an_offer_again_opens_the_conversation_and_changes_nothing(desk, agent_profile):
    conversation, item = _offered()
    first = desk.post(f"/desk/offers/{item.pk}/accept/", **HTMX)
    after_first = _effects(conversation.pk)

    again = desk.post(f"/desk/offers/{item.pk}/accept/", **HTMX)

    assert (first.status_code, again.status_code) == (200, 200)
    assert f'data-conversation-id="{conversation.pk}"' in again.content.decode()
    assert _effects(conversation.pk) == after_first
    assert WorkItem.objects.get(pk=item.pk).state == ItemState.ASSIGNED


def test_declining_an_offer_again_changes_nothing(desk, agent_profile):
    conversation, item = _offered()
    first = desk.post(f"/desk/offers/{item.pk}/decline/", **HTMX)
    after_first = _effects(conversation.pk), WorkItem.objects.values_list("state", "declined_by").get(pk=item.pk)

    again = desk.post(f"/desk/offers/{item.pk}/decline/", **HTMX)

    assert (first.status_code, again.status_code) == (200, 200)
    assert (_effects(conversation.pk),
            WorkItem.objects.values_list("state", "declined_by").get(pk=item.pk)) == after_first


def test_resolving_again_answers_resolved_and_changes_nothing(desk, agent_profile):
    ContactReason.objects.create(key="late_order", label="Late order")
    conversation = _assigned(agent_profile.user)
    url = f"/desk/conversations/{conversation.pk}/resolve/"
    first = desk.post(url, {"contact_reason": "late_order"}, **HTMX)
    after_first = _effects(conversation.pk)

    again = desk.post(url, {"contact_reason": "late_order"}, **HTMX)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.content == first.content
    assert _effects(conversation.pk) == after_first
    assert Conversation.objects.get(pk=conversation.pk).status == ConversationStatus.RESOLVED


@pytest.mark.parametrize("by", ["agent", "supervisor"])
@pytest.mark.parametrize("to", ["queue", "agent"])
def test_transferring_again_answers_transferred_and_changes_nothing(client, agent_profile, by, to):
    Queue.objects.create(key="refunds", name="Refunds")
    colleague = AgentProfileFactory(languages=["es"], contact_kinds=["customer"])
    conversation = _assigned(agent_profile.user)
    routing.presence_set(user=colleague.user, presence=Presence.ONLINE)
    client.force_login(agent_profile.user if by == "agent" else _supervisor())
    url = f"/desk/conversations/{conversation.pk}/transfer/"
    target = {"target": "queue:refunds" if to == "queue" else f"agent:{colleague.user_id}"}
    first = client.post(url, target, **HTMX)
    after_first = _effects(conversation.pk), WorkItem.objects.values_list("state", "agent", "queue").get(
        conversation_id=conversation.pk)

    again = client.post(url, target, **HTMX)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.content == first.content
    assert (_effects(conversation.pk), WorkItem.objects.values_list("state", "agent", "queue").get(
        conversation_id=conversation.pk)) == after_first


def test_an_agent_who_gets_a_conversation_back_may_transfer_it_again(desk, agent_profile):
    """A retry is told apart from a new transfer: the conversation came back to the agent."""
    Queue.objects.create(key="refunds", name="Refunds")
    colleague = AgentProfileFactory(languages=["es"], contact_kinds=["customer"])
    routing.presence_set(user=colleague.user, presence=Presence.ONLINE)
    conversation = _assigned(agent_profile.user)
    url = f"/desk/conversations/{conversation.pk}/transfer/"
    desk.post(url, {"target": f"agent:{colleague.user_id}"}, **HTMX)
    services.conversation_transfer(conversation_id=conversation.pk, user=colleague.user,
                                   agent_user_id=agent_profile.user_id)

    again = desk.post(url, {"target": f"agent:{colleague.user_id}"}, **HTMX)

    assert again.status_code == 200
    assert Conversation.objects.get(pk=conversation.pk).assignee_id == colleague.user_id
    transfers = WorkItemEvent.objects.filter(item__conversation_id=conversation.pk, kind="transferred")
    assert transfers.count() == 3


def test_an_agent_may_not_learn_where_a_conversation_went_by_transferring_it(client, agent_profile):
    Queue.objects.create(key="refunds", name="Refunds")
    conversation = _assigned(agent_profile.user)
    services.conversation_transfer(conversation_id=conversation.pk, user=agent_profile.user, queue_key="refunds")
    stranger = AgentProfileFactory(languages=["es"])
    client.force_login(stranger.user)

    response = client.post(f"/desk/conversations/{conversation.pk}/transfer/", {"target": "queue:refunds"}, **HTMX)

    assert response.status_code == 404


def test_changing_the_status_again_through_the_api_changes_nothing(api, agent_profile):
    conversation = _assigned(agent_profile.user)
    url = f"/api/v1/conversations/{conversation.pk}/"
    first = api.patch(url, {"status": "pending"}, format="json")
    after_first = _effects(conversation.pk)

    again = api.patch(url, {"status": "pending"}, format="json")

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["status"] == "pending"
    assert _effects(conversation.pk) == after_first


def test_setting_the_same_presence_again_changes_nothing(desk, agent_profile):
    first = desk.post("/desk/presence/", {"presence": "away"}, **HTMX)
    since = agent_profile.__class__.objects.values_list("presence", "presence_since").get(pk=agent_profile.pk)

    again = desk.post("/desk/presence/", {"presence": "away"}, **HTMX)

    assert (first.status_code, again.status_code) == (200, 200)
    assert agent_profile.__class__.objects.values_list("presence", "presence_since").get(
        pk=agent_profile.pk) == since


def test_a_contact_edit_sent_again_through_the_api_is_recorded_once(api):
    contact = ContactFactory(name="Ana")
    url = f"/api/v1/contacts/{contact.pk}/"

    answers = [api.patch(url, {"name": "Ana María"}, format="json").status_code for _ in range(2)]

    assert answers == [200, 200]
    assert TimelineEvent.objects.filter(contact=contact, kind="contact.updated").count() == 1


def test_a_contact_created_again_through_the_api_is_created_once(api):
    payload = {"kind": "customer", "external_id": "C-RETRY", "name": "Ana"}

    answers = [api.post("/api/v1/contacts/", payload, format="json") for _ in range(2)]

    assert [answer.status_code for answer in answers] == [201, 409]  # the retry is told: it exists
    contact = Contact.objects.get(external_id="C-RETRY")
    assert TimelineEvent.objects.filter(contact=contact, kind="contact.created").count() == 1


def test_a_merge_sent_again_through_the_api_merges_once():
    from rest_framework.test import APIClient

    supervisor = UserFactory(is_staff=True, is_superuser=True)
    api = APIClient()
    api.force_authenticate(supervisor)
    source, target = ContactFactory(), ContactFactory()
    first = api.post(f"/api/v1/contacts/{source.pk}/merge/", {"into": target.pk}, format="json")
    after_first = TimelineEvent.objects.filter(contact=target).count()

    again = api.post(f"/api/v1/contacts/{source.pk}/merge/", {"into": target.pk}, format="json")

    assert (first.status_code, again.status_code) == (200, 409)  # the retry is told: already merged
    assert again.json()["error"]["code"] == "already_merged"
    assert TimelineEvent.objects.filter(contact=target).count() == after_first
