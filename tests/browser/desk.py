"""What the workspace's browser tests set up the same way: the desk's settings for a test and
a chat assigned to an online agent, with the customer's first message in it."""

from __future__ import annotations

import uuid
from typing import Any

from conversations import services, widget
from conversations.models import Conversation
from routing import services as routing
from routing.models import Presence, Queue, WorkItem
from tests.factories import AgentProfileFactory, ContactFactory

PASSWORD = "correct horse battery staple"


def desk_prepare(settings: Any) -> None:
    settings.REDIS_KEY_PREFIX = f"test-{uuid.uuid4().hex}"  # rate-limit counters of this test only
    settings.CELERY_TASK_ALWAYS_EAGER = True
    Queue.objects.create(key="general", name="General")


def assigned_chat(**user_fields: Any) -> tuple[Any, Conversation, widget.Session]:
    profile = AgentProfileFactory(languages=["es"], contact_kinds=["customer"], user__first_name="Marta",
                                  **{f"user__{name}": value for name, value in user_fields.items()})
    routing.presence_set(user=profile.user, presence=Presence.ONLINE)
    contact = ContactFactory(preferred_language="es")
    conversation = services.conversation_open(contact=contact, channel="chat")
    services.offer_accept(item_id=WorkItem.objects.get(conversation_id=conversation.pk).pk, user=profile.user)
    session = widget.Session(contact_id=contact.pk)
    services.visitor_message_send(session=session, body="Hola, ¿mi pedido?")
    return profile, conversation, session


def desk_sign_in(page: Any, url: str, profile: Any) -> None:
    """Open a desk page (`url`, absolute) on `page`, sign the agent in on the login form it sends
    them to, and wait for the workspace's socket to open."""
    from playwright.sync_api import expect

    page.goto(url)
    page.fill("input[name=username]", profile.user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_test_id("socket-state")).to_have_attribute("data-state", "open")


def agent_online(page: Any, url: str, profile: Any) -> None:
    """Sign the agent in on `page` and set them online, as they would by hand."""
    from playwright.sync_api import expect

    desk_sign_in(page, url + "/desk/", profile)
    page.select_option("[data-testid=presence-toggle]", "online")
    expect(page.locator("form#presence.presence-online")).to_have_count(1)
