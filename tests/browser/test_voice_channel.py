"""Calls end to end in a real browser, with the voice simulator playing the provider over HTTP.

1. A caller rings the desk and presses the menu's key for Korean: the call rings in the
   workspace of the agent who speaks Korean, who answers it; the call panel follows it live
   (in progress, on hold, resumed, ended with its length and recording) and the contact's
   timeline has it.
2. Proactive calls (seed 002): an agent holding three chats sees "Send call invitation"
   disabled and why; with one chat left, they send it; the customer opens the link, sees the
   page in Spanish and consents; the simulator rings the customer, who answers, and the call
   is logged on the conversation.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from conversations import services
from conversations.call_links import call_invitation_url
from conversations.models import Call, CallInvitation, ContactReason, Conversation
from integrations.voice.fake_server import FakeVoiceServer
from routing import services as routing
from routing.models import Presence, WorkItem
from tests.browser.desk import agent_online, desk_prepare
from tests.conftest import free_port
from tests.factories import AgentProfileFactory, ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def simulator(asgi_server, settings):
    desk_prepare(settings)
    settings.VOICE_WEBHOOK_BASE_URL = asgi_server.url
    settings.DESK_PUBLIC_URL = asgi_server.url
    server = FakeVoiceServer(port=free_port(), account_sid=settings.TWILIO_ACCOUNT_SID,
                             auth_token=settings.TWILIO_AUTH_TOKEN, report_delay=0.2,
                             desk_url=asgi_server.url + "/integrations/voice/")
    server.start()
    settings.TWILIO_API_URL = server.url
    yield server
    server.stop()


def test_a_call_rings_the_agent_who_speaks_its_language_and_is_answered_from_the_workspace(
        asgi_server, page, simulator, settings):
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    AgentProfileFactory(languages=["es"], contact_kinds=["customer"])  # offline: Spanish only anyway
    profile = AgentProfileFactory(languages=["ko"], contact_kinds=["customer"], user__first_name="Minji")
    agent_online(page, asgi_server.url, profile)

    korean = str(settings.VOICE_LANGUAGES.index("ko") + 1)
    placed = simulator.provider.place_call(from_="+82 10-1234-5678", digit=korean)
    assert placed["stage"] == "queue", placed

    offer = page.get_by_test_id("offer")
    expect(offer.get_by_test_id("offer-ringing")).to_contain_text("+821012345678")
    call = Call.objects.get(provider_call_id=placed["sid"])
    assert (call.conversation.channel, call.conversation.language) == ("voice", "ko")
    offer.get_by_test_id("offer-accept").click()

    panel = page.get_by_test_id("call-panel")
    expect(panel.get_by_test_id("call-status")).to_have_text("In progress")  # the agent's leg answered
    panel.get_by_test_id("call-hold").click()
    expect(page.get_by_test_id("call-status")).to_have_text("On hold")
    page.get_by_test_id("call-resume").click()
    expect(page.get_by_test_id("call-status")).to_have_text("In progress")
    page.wait_for_timeout(1100)  # a second of talk
    page.get_by_test_id("call-hangup").click()
    expect(page.get_by_test_id("call")).to_have_attribute("data-status", "completed")
    expect(page.get_by_test_id("call-duration")).to_be_visible()
    expect(page.get_by_test_id("call-recording")).to_have_attribute("href", f"{simulator.url}/2010-04-01/"
                                                                     f"Accounts/{settings.TWILIO_ACCOUNT_SID}/"
                                                                     f"Recordings/{_recording_sid(call)}")
    kinds = page.locator("[data-testid=call-event]")
    for kind in ("ringing", "language", "answered", "held", "resumed", "ended"):
        expect(kinds.and_(page.locator(f"[data-kind={kind}]"))).to_have_count(1)

    page.goto(f"{asgi_server.url}/desk/contacts/{call.conversation.contact_id}/")
    timeline = page.get_by_test_id("timeline")
    for kind in ("call.ringing", "call.answered", "call.held", "call.ended"):
        expect(timeline.locator(f"[data-testid=timeline-event][data-kind='{kind}']")).to_have_count(1)
    assert errors == []


def _recording_sid(call: Call) -> str:
    call.refresh_from_db()
    return call.recording_url.rsplit("/", 1)[-1]


def _chat_for(profile, language: str = "es") -> Conversation:
    conversation = services.conversation_open(contact=ContactFactory(preferred_language=language,
                                                                     phone="+34612345678"), channel="chat")
    services.offer_accept(item_id=WorkItem.objects.get(conversation_id=conversation.pk).pk, user=profile.user)
    services.visitor_message_send(session=_session(conversation), body="¿Dónde está mi pedido?")
    return conversation


def _session(conversation: Conversation):
    from conversations import widget

    return widget.Session(contact_id=conversation.contact_id)


def test_a_proactive_call_is_refused_with_three_chats_then_consented_to_and_logged(
        asgi_server, page, browser, simulator, settings):
    ContactReason.objects.create(key="late_order", label="Late order", calls_enabled=True)
    profile = AgentProfileFactory(languages=["es"], contact_kinds=["customer"], user__first_name="Marta",
                                  capacity={"chat": 3, "messaging": 3, "email": 5, "voice": 1})
    routing.presence_set(user=profile.user, presence=Presence.ONLINE)
    chats = [_chat_for(profile) for _ in range(3)]
    Conversation.objects.filter(pk=chats[0].pk).update(contact_reason="late_order")
    agent_online(page, asgi_server.url, profile)

    page.goto(f"{asgi_server.url}/desk/c/{chats[0].pk}/")
    invite = page.get_by_test_id("call-invite-panel")
    expect(invite).to_have_attribute("data-enabled", "false")
    expect(invite.get_by_test_id("call-invite-button")).to_be_disabled()
    expect(invite.locator("[data-testid=call-invite-reason][data-rule=concurrency]")).to_contain_text(
        "3 chats at once")

    # Two chats resolved: one left, and the button comes on.
    for chat in chats[1:]:
        services.conversation_resolve(conversation_id=chat.pk, user=profile.user, contact_reason="late_order")
    page.reload()
    button = page.get_by_test_id("call-invite-button")
    expect(button).to_be_enabled()
    button.click()
    expect(page.get_by_test_id("call-invite-status")).to_have_attribute("data-state", "sent")
    invitation = CallInvitation.objects.get(conversation_id=chats[0].pk)
    expect(page.locator("[data-testid=message][data-direction=out]").last).to_contain_text("/call/")

    customer = browser.new_page()
    try:
        customer.goto(call_invitation_url(invitation))
        consent = customer.get_by_test_id("call-consent")
        expect(consent).to_contain_text("¿Quieres que te llamemos?")
        expect(customer.get_by_test_id("consent-phone")).to_have_value("+34612345678")
        customer.get_by_test_id("consent-call").click()
        expect(customer.get_by_test_id("call-answered")).to_be_visible()
    finally:
        customer.close()

    # The simulator rang the customer, who picked up: the agent's panel shows the call live.
    proactive = page.get_by_test_id("call-panel").locator("[data-testid=call][data-reason=proactive]")
    expect(proactive).to_have_attribute("data-status", "in_progress")
    page.get_by_test_id("call-hangup").click()
    expect(proactive).to_have_attribute("data-status", "completed")
    invitation.refresh_from_db()
    assert invitation.state == "completed" and invitation.answered_at is not None
