"""The agent workspace through Django's test client: who may use it, the actions and
their effects in the database, escaping, macros, and readable errors for bad input."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from conversations import services
from conversations.models import ContactReason, ConversationStatus, Macro, Message, MessageDirection
from routing import services as routing
from routing.models import ItemState, Presence, Queue, WorkItem
from tests.factories import (
    AgentProfileFactory,
    ContactFactory,
    CourierFactory,
    OrderFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def queue():
    return Queue.objects.create(key="general", name="General")


@pytest.fixture
def agent_profile(queue):
    profile = AgentProfileFactory(languages=["es"], contact_kinds=["customer", "courier"])
    routing.presence_set(user=profile.user, presence=Presence.ONLINE)
    return profile


@pytest.fixture
def desk(client, agent_profile):
    client.force_login(agent_profile.user)
    return client


def _offered(contact=None):
    """A chat opened and offered to the online agent."""
    conversation = services.conversation_open(contact=contact or ContactFactory(preferred_language="es"),
                                              channel="chat")
    item = WorkItem.objects.get(conversation_id=conversation.pk)
    assert item.state == ItemState.OFFERED  # the set-up reached the agent
    return conversation, item


def _assigned(user, contact=None):
    conversation, item = _offered(contact)
    services.offer_accept(item_id=item.pk, user=user)
    return conversation


def _supervisor():
    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="supervise", content_type__app_label="supportdesk"))
    return user


def _error_shown(response, status: int) -> str:
    """The readable message of an htmx error answer, which goes to the flash area."""
    assert response.status_code == status
    assert response["HX-Retarget"] == "#desk-flash"
    match = re.search(r'data-testid="desk-error"[^>]*>\s*<span>(.*?)</span>', response.content.decode(), re.S)
    assert match, response.content
    return html.unescape(match.group(1))


# --- who may use the desk ---------------------------------------------------------------------------


def test_the_desk_sends_strangers_to_its_login_page(client):
    response = client.get("/desk/")
    assert response.status_code == 302 and response["Location"] == "/desk/login/?next=/desk/"

    partial = client.get("/desk/offers/", **HTMX)
    assert partial.status_code == 401 and partial["HX-Redirect"] == "/desk/login/"


def test_logging_in_leads_to_the_workspace_and_logging_out_back_to_the_login(client, agent_profile):
    page = client.get("/desk/login/")
    assert page.status_code == 200 and b'name="password"' in page.content

    response = client.post("/desk/login/", {"username": agent_profile.user.username,
                                            "password": "correct horse battery staple"})
    assert response.status_code == 302 and response["Location"] == "/desk/"

    response = client.post("/desk/logout/")
    assert response.status_code == 302 and response["Location"] == "/desk/login/"
    assert client.get("/desk/").status_code == 302


def test_a_user_who_is_neither_agent_nor_supervisor_is_refused_with_a_page_that_says_why(client):
    client.force_login(UserFactory())

    response = client.get("/desk/")

    assert response.status_code == 403
    assert b"The desk is for agents and supervisors" in response.content


def test_the_shell_shows_presence_offers_and_my_conversations_with_unread_counts(desk, agent_profile):
    conversation = _assigned(agent_profile.user)
    services.message_create(conversation=conversation, direction=MessageDirection.INBOUND, body="hola")
    services.message_create(conversation=conversation, direction=MessageDirection.INBOUND, body="¿hay alguien?")
    _, offered = _offered()

    page = desk.get("/desk/").content.decode()

    assert 'data-testid="presence-toggle"' in page and '<option value="online" selected>' in page
    assert f'data-testid="offer" data-item-id="{offered.pk}"' in page
    assert 'data-testid="offer-countdown"' in page and 'data-testid="offer-accept"' in page
    entry = re.search(rf'data-conversation-id="{conversation.pk}".*?data-unread="(\d+)"', page, re.S)
    assert entry and entry.group(1) == "2"


def test_a_supervisor_without_an_agent_profile_may_open_the_shell(client):
    client.force_login(_supervisor())

    response = client.get("/desk/")

    assert response.status_code == 200 and b'data-testid="workspace"' in response.content
    assert b'data-testid="presence-toggle"' not in response.content


# --- actions ----------------------------------------------------------------------------------------


def test_presence_toggle_sets_presence_and_an_unknown_one_is_explained(desk, agent_profile):
    response = desk.post("/desk/presence/", {"presence": "away"}, **HTMX)
    assert response.status_code == 200
    agent_profile.refresh_from_db()
    assert agent_profile.presence == Presence.AWAY

    message = _error_shown(desk.post("/desk/presence/", {"presence": "asleep"}, **HTMX), 400)
    assert "Unknown presence 'asleep'" in message


def test_accepting_an_offer_assigns_the_conversation_and_opens_it(desk, agent_profile):
    conversation, item = _offered()

    response = desk.post(f"/desk/offers/{item.pk}/accept/", **HTMX)

    assert response.status_code == 200
    assert f'data-testid="conversation" data-conversation-id="{conversation.pk}"' in response.content.decode()
    assert response["HX-Trigger"] == "desk-refresh"
    item.refresh_from_db()
    conversation.refresh_from_db()
    assert item.state == ItemState.ASSIGNED and conversation.assignee == agent_profile.user


def test_an_offer_past_its_timeout_leaves_the_offers_list_before_any_sweep_expires_it(desk, agent_profile):
    _, live = _offered()
    _, lapsed = _offered()
    WorkItem.objects.filter(pk=lapsed.pk).update(offer_expires_at=timezone.now() - timedelta(seconds=1))

    page = desk.get("/desk/offers/", **HTMX).content.decode()

    assert f"/desk/offers/{live.pk}/accept/" in page
    assert f"/desk/offers/{lapsed.pk}/accept/" not in page
    assert WorkItem.objects.get(pk=lapsed.pk).state == ItemState.OFFERED  # no sweep ran


def test_declining_an_offer_passes_it_on(desk, agent_profile):
    _, item = _offered()

    response = desk.post(f"/desk/offers/{item.pk}/decline/", **HTMX)

    assert response.status_code == 200 and f'data-item-id="{item.pk}"' not in response.content.decode()
    item.refresh_from_db()
    assert item.state == ItemState.WAITING and agent_profile.pk in item.declined_by


@pytest.mark.parametrize("verb", ["accept", "decline"])
def test_answering_an_offer_that_is_not_yours_is_a_404_like_one_that_does_not_exist(desk, verb):
    other = AgentProfileFactory(languages=["es"])
    routing.presence_set(user=other.user, presence=Presence.AWAY)
    _, item = _offered()
    WorkItem.objects.filter(pk=item.pk).update(agent=other)

    not_yours = _error_shown(desk.post(f"/desk/offers/{item.pk}/{verb}/", **HTMX), 404)
    missing = _error_shown(desk.post(f"/desk/offers/{10**9}/{verb}/", **HTMX), 404)

    assert not_yours == missing.replace(str(10**9), str(item.pk))
    item.refresh_from_db()
    assert item.state == ItemState.OFFERED and item.agent_id == other.pk


def test_reply_and_note_are_stored_with_their_direction(desk, agent_profile):
    conversation = _assigned(agent_profile.user)

    reply = desk.post(f"/desk/conversations/{conversation.pk}/messages/", {"body": "Hola, ¿en qué te ayudo?"},
                      **HTMX)
    note = desk.post(f"/desk/conversations/{conversation.pk}/messages/",
                     {"body": "Cliente VIP, ojo", "note": "1"}, **HTMX)

    assert reply.status_code == 201 and 'data-direction="out"' in reply.content.decode()
    assert note.status_code == 201 and 'data-direction="note"' in note.content.decode()
    stored = list(Message.objects.filter(conversation=conversation)
                  .values_list("direction", "body", "author_user"))
    assert stored == [(MessageDirection.OUTBOUND, "Hola, ¿en qué te ayudo?", agent_profile.user.pk),
                      (MessageDirection.NOTE, "Cliente VIP, ojo", agent_profile.user.pk)]


def test_an_empty_reply_is_explained_and_stores_nothing(desk, agent_profile):
    conversation = _assigned(agent_profile.user)

    refused = desk.post(f"/desk/conversations/{conversation.pk}/messages/", {"body": "  "}, **HTMX)
    message = _error_shown(refused, 400)

    assert message == "A message needs some text."
    assert not Message.objects.filter(conversation=conversation).exists()


def test_transfer_to_a_queue_moves_the_work_there(desk, agent_profile):
    Queue.objects.create(key="refunds", name="Refunds")
    conversation = _assigned(agent_profile.user)

    response = desk.post(f"/desk/conversations/{conversation.pk}/transfer/", {"target": "queue:refunds"}, **HTMX)

    assert response.status_code == 200 and b'data-testid="conversation-closed"' in response.content
    item = WorkItem.objects.get(conversation_id=conversation.pk, state__in=(ItemState.WAITING, ItemState.OFFERED))
    assert item.queue.key == "refunds" and item.agent_id != agent_profile.pk


def test_transfer_to_an_online_agent_assigns_them(desk, agent_profile):
    colleague = AgentProfileFactory(languages=["es"])
    conversation = _assigned(agent_profile.user)
    routing.presence_set(user=colleague.user, presence=Presence.ONLINE)

    response = desk.post(f"/desk/conversations/{conversation.pk}/transfer/",
                         {"target": f"agent:{colleague.user_id}"}, **HTMX)

    assert response.status_code == 200
    conversation.refresh_from_db()
    assert conversation.assignee_id == colleague.user_id


@pytest.mark.parametrize(("target", "status", "says"), [
    ("queue:nowhere", 404, "No active queue 'nowhere'."),
    ("agent:abc", 400, "Choose a queue or an agent to transfer to."),
    ("", 400, "Choose a queue or an agent to transfer to."),
])
def test_a_bad_transfer_target_is_explained(desk, agent_profile, target, status, says):
    conversation = _assigned(agent_profile.user)

    message = _error_shown(desk.post(f"/desk/conversations/{conversation.pk}/transfer/", {"target": target},
                                     **HTMX), status)

    assert message == says
    still = WorkItem.objects.get(conversation_id=conversation.pk, state=ItemState.ASSIGNED)
    assert still.agent_id == agent_profile.pk


def test_resolve_with_a_contact_reason_closes_the_conversation(desk, agent_profile):
    ContactReason.objects.create(key="late_order", label="Late order")
    conversation = _assigned(agent_profile.user)

    response = desk.post(f"/desk/conversations/{conversation.pk}/resolve/", {"contact_reason": "late_order"},
                         **HTMX)

    assert response.status_code == 200
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.RESOLVED and conversation.contact_reason == "late_order"
    assert WorkItem.objects.get(conversation_id=conversation.pk).state == ItemState.COMPLETED


def test_resolve_with_an_unknown_contact_reason_is_explained(desk, agent_profile):
    conversation = _assigned(agent_profile.user)

    message = _error_shown(desk.post(f"/desk/conversations/{conversation.pk}/resolve/",
                                     {"contact_reason": "made_up"}, **HTMX), 400)

    assert message == "Unknown contact reason 'made_up'."
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.OPEN


# --- whose conversations ------------------------------------------------------------------------------


def test_an_agent_cannot_open_or_act_on_a_conversation_not_theirs_but_a_supervisor_can(client, agent_profile):
    conversation = _assigned(agent_profile.user)
    intruder = AgentProfileFactory(languages=["es"])
    client.force_login(intruder.user)

    assert client.get(f"/desk/conversations/{conversation.pk}/", **HTMX).status_code == 404
    assert client.get(f"/desk/c/{conversation.pk}/").status_code == 404
    refused = client.post(f"/desk/conversations/{conversation.pk}/messages/", {"body": "hi"}, **HTMX)
    assert _error_shown(refused, 404) == f"Conversation {conversation.pk} does not exist."
    assert not Message.objects.filter(conversation=conversation).exists()

    client.force_login(_supervisor())
    assert client.get(f"/desk/conversations/{conversation.pk}/", **HTMX).status_code == 200
    noted = client.post(f"/desk/conversations/{conversation.pk}/messages/", {"body": "checked", "note": "1"},
                        **HTMX)
    assert noted.status_code == 201
    assert Message.objects.get(conversation=conversation).direction == MessageDirection.NOTE


# --- what the conversation view shows -------------------------------------------------------------------


def test_a_message_with_html_is_shown_as_text(desk, agent_profile):
    contact = ContactFactory(preferred_language="es", name="<b>Eve</b>")
    conversation = _assigned(agent_profile.user, contact)
    services.message_create(conversation=conversation, direction=MessageDirection.INBOUND,
                            body="<script>alert(1)</script>")

    for url in (f"/desk/conversations/{conversation.pk}/", f"/desk/c/{conversation.pk}/", "/desk/"):
        page = desk.get(url, **HTMX).content.decode()
        assert "<script>alert(1)" not in page and "<b>Eve</b>" not in page
    page = desk.get(f"/desk/conversations/{conversation.pk}/", **HTMX).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_conversation_view_embeds_its_macros_with_the_variables_filled_in(desk, agent_profile):
    agent_profile.user.first_name = "Marta"
    agent_profile.user.save()
    Macro.objects.filter(shortcut="ccproactivecall").delete()  # migration 0012 ships texts; this test has its own
    Macro.objects.create(shortcut="ccproactivecall", title="Proactive call", language="es",
                         body="Hola {{ contact.first_name }}, soy {{ agent.first_name }}. Te llamamos.")
    # The same shortcut for any language: the chat's own language wins over it.
    Macro.objects.create(shortcut="ccproactivecall", title="Proactive call", body="Hi {{ contact.first_name }}")
    Macro.objects.create(shortcut="thanks", title="Thanks", body="Thanks, {{ contact.name }}!")
    Macro.objects.create(shortcut="bye", title="Bye", body="Goodbye", language="fr")  # another language
    Macro.objects.create(shortcut="old", title="Old", body="Retired", is_active=False)
    conversation = _assigned(agent_profile.user, ContactFactory(preferred_language="es", name="Lucía Pérez"))

    page = desk.get(f"/desk/conversations/{conversation.pk}/", **HTMX).content.decode()

    data = re.search(r'<script id="macros-data" type="application/json">(.*?)</script>', page, re.S)
    assert data and json.loads(data.group(1)) == {"ccproactivecall": "Hola Lucía, soy Marta. Te llamamos.",
                                                  "thanks": "Thanks, Lucía Pérez!"}


def test_the_sidebar_shows_a_customers_orders_and_last_conversations(desk, agent_profile):
    contact = ContactFactory(preferred_language="es", lifetime_order_value=Decimal("1234.50"), tier="gold",
                             credit_balance=Decimal("5.00"))
    OrderFactory(customer=contact, external_id="O-LATE-1", status="in_delivery", is_delayed=True, delay_minutes=25)
    conversation = _assigned(agent_profile.user, contact)

    page = desk.get(f"/desk/conversations/{conversation.pk}/contact/", **HTMX).content.decode()

    assert 'data-testid="contact-sidebar"' in page and "1234.50" in page and "Gold" in page
    assert "O-LATE-1" in page and "In delivery" in page and "late 25 min" in page
    assert f"#{conversation.pk} Live chat" in page


def test_the_sidebar_shows_a_couriers_vehicle_and_current_order(desk, agent_profile):
    order = OrderFactory(external_id="O-NOW-7")
    courier = CourierFactory(preferred_language="es", vehicle="bicycle", courier_status="active",
                             current_order=order)
    conversation = _assigned(agent_profile.user, courier)

    page = desk.get(f"/desk/conversations/{conversation.pk}/contact/", **HTMX).content.decode()

    assert 'data-kind="courier"' in page and "Bicycle" in page and "Active" in page and "O-NOW-7" in page
