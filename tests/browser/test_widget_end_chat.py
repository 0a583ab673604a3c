"""A customer ends their chat from the widget (real Chromium, the real ASGI server, websockets
and the Redis channel layer): "End chat" appears once a chat is going, ending it while it
waits for an agent abandons it (the work item cancelled, the conversation closed), the widget
says so in the chat's language and hides the button, and the next message starts a new chat."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from conversations.models import Conversation, ConversationStatus
from routing.models import ItemState, Queue, WorkItem

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _desk(settings):
    settings.REDIS_KEY_PREFIX = f"test-{uuid.uuid4().hex}"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    Queue.objects.create(key="general", name="General")


def test_a_customer_ends_a_chat_still_waiting_for_an_agent(asgi_server, page):
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    # An anonymous customer writes in the widget while no agent is online
    page.goto(asgi_server.url + "/widget/demo/")
    page.get_by_test_id("supportdesk-launcher").click()
    chat = page.frame_locator("[data-testid=supportdesk-frame]")
    expect(chat.get_by_test_id("status-line")).to_contain_text("Connected")
    end = chat.get_by_test_id("chat-end")
    expect(end).to_be_hidden()  # no chat yet
    chat.get_by_test_id("composer").fill("Hola, mi pedido no ha llegado todavía y nadie me contesta")
    chat.get_by_test_id("send-button").click()
    expect(chat.locator("[data-testid=message][data-direction=in]").first).to_have_attribute("data-state", "sent")

    # They give up waiting and end it
    expect(end).to_have_text("End chat")
    end.click()

    # told so in the chat's language (detected from its first message)
    expect(chat.get_by_test_id("chat-notice").last).to_contain_text("Has terminado el chat")
    expect(end).to_be_hidden()
    conversation = Conversation.objects.get()
    assert conversation.status == ConversationStatus.CLOSED
    item = WorkItem.objects.get(conversation_id=conversation.pk)
    assert (item.state, item.answered_at) == (ItemState.CANCELLED, None)

    # Writing again starts a new chat, which they may end too
    chat.get_by_test_id("composer").fill("Otra pregunta")
    chat.get_by_test_id("send-button").click()
    expect(chat.locator("[data-testid=message][data-direction=in]").last).to_have_attribute("data-state", "sent")
    expect(end).to_be_visible()
    assert Conversation.objects.exclude(pk=conversation.pk).get().status == ConversationStatus.OPEN
    assert not errors, errors
