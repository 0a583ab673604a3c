"""Phone calls on the desk's side (conversations.services.calls and conversations.calls): what the
voice provider reports, what agents do, and what the provider is asked, with a recording
provider standing in for integrations' (the real one is tested in tests/integrations)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from conversations import calls as call_actions
from conversations import services
from conversations.calls import Performed
from conversations.channels import TransportRefused, TransportRetry
from conversations.models import Call, CallAction, CallEvent, CallStatus, Conversation, ConversationStatus
from conversations.routing_history import call_rings_copy
from conversations.services import calls
from routing.models import AgentSlot, ItemState, WorkItem
from supportdesk.models import OutboxEntry
from tests.factories import ContactFactory
from tests.scenarios import conversation_assigned, online_agent
from timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def performed(monkeypatch):
    """A provider that records what it was asked (and can be told to refuse or fail)."""
    class Done(list):
        behaviour: dict

    done = Done()
    behaviour: dict[str, Exception | None] = {"raise": None}

    def perform(action: CallAction, call: Call) -> Performed:
        if behaviour["raise"] is not None:
            raise behaviour["raise"]
        done.append((action.kind, call.pk, action.agent_id))
        return Performed(outcome="ok", provider_call_id=f"CA-out-{call.pk}" if action.kind == "dial" else "")

    monkeypatch.setattr(call_actions, "_provider", [perform])
    done.behaviour = behaviour  # type: ignore[attr-defined]
    return done


def ring(number: str = "+34600111222", call_id: str = "CA1", language: str = "es") -> Call:
    contact = ContactFactory(phone=number, preferred_language="")
    call = calls.call_incoming(contact=contact, provider_call_id=call_id, contact_number=number,
                               desk_number="+34900000000")
    if language is not None:
        calls.call_language_chosen(provider_call_id=call_id, language=language, key="menu")
    call.refresh_from_db()
    return call


def kinds(call: Call) -> list[str]:
    return list(CallEvent.objects.filter(call=call).values_list("kind", flat=True))


def test_a_ringing_call_waits_for_the_menu_then_routes_in_the_chosen_language(performed):
    agent = online_agent(languages=["ko"])
    contact = ContactFactory(phone="+82101234567", preferred_language="es")
    call = calls.call_incoming(contact=contact, provider_call_id="CA-ko", contact_number="+82101234567")
    # The routing task (and the unrouted sweep) leave it while the caller is in the menu.
    assert services.conversation_route(conversation_id=call.conversation_id) is False
    assert not WorkItem.objects.filter(conversation_id=call.conversation_id).exists()

    calls.call_language_chosen(provider_call_id="CA-ko", language="ko", key="menu")
    item = WorkItem.objects.get(conversation_id=call.conversation_id)
    assert (item.channel, item.language, item.state, item.agent_id) == ("voice", "ko", ItemState.OFFERED, agent.pk)
    assert Conversation.objects.get(pk=call.conversation_id).language == "ko"
    call.refresh_from_db()
    assert call.status == CallStatus.QUEUED and call.queued_at is not None
    # Reported again (a provider's retry), nothing changes.
    assert calls.call_incoming(contact=contact, provider_call_id="CA-ko").pk == call.pk
    calls.call_language_chosen(provider_call_id="CA-ko", language="es", key="menu")
    assert WorkItem.objects.get(conversation_id=call.conversation_id).language == "ko"
    assert kinds(call) == ["ringing", "language", "queued"]


def test_an_unknown_language_choice_takes_the_desks_default(settings):
    settings.CHAT_DEFAULT_LANGUAGE = "en"
    call = ring(language="xx")
    assert Conversation.objects.get(pk=call.conversation_id).language == "en"


def test_accepting_the_ring_connects_the_caller_and_the_report_records_the_answer(performed):
    agent = online_agent()
    call = ring()
    item = WorkItem.objects.get(conversation_id=call.conversation_id)
    services.offer_accept(item_id=item.pk, user=agent.user)
    call.refresh_from_db()
    assert call.status == CallStatus.CONNECTING and call.agent_id == agent.user_id
    assert call_actions.call_actions_drain() == 1
    assert performed == [("connect", call.pk, agent.user_id)]

    calls.call_answered(provider_call_id="CA1", key="bridged")
    calls.call_hold(conversation_id=call.conversation_id, user=agent.user, hold=True)
    calls.call_hold(conversation_id=call.conversation_id, user=agent.user, hold=True)  # again: nothing more
    calls.call_hold(conversation_id=call.conversation_id, user=agent.user, hold=False)
    call_actions.call_actions_drain()
    calls.call_recording(provider_call_id="CA1", url="https://voice.example/rec/RE1.mp3", key="rec")
    calls.call_ended(provider_call_id="CA1", provider_status="completed", duration_seconds=95, key="end")
    calls.call_ended(provider_call_id="CA1", provider_status="completed", duration_seconds=95, key="end")
    assert [kind for kind, *_ in performed] == ["connect", "hold", "resume"]
    call.refresh_from_db()
    assert (call.status, call.duration_seconds, call.recording_url) == (
        CallStatus.COMPLETED, 95, "https://voice.example/rec/RE1.mp3")
    assert kinds(call) == ["ringing", "language", "queued", "answered", "held", "resumed", "recording", "ended"]
    timeline = set(TimelineEvent.objects.filter(contact_id=call.conversation.contact_id)
                   .values_list("kind", flat=True))
    assert {"call.answered", "call.held", "call.ended", "call.recording"} <= timeline


def test_a_caller_who_hangs_up_while_waiting_abandoned_it_with_the_wait(performed):
    call = ring()  # nobody online: it waits
    Call.objects.filter(pk=call.pk).update(queued_at=timezone.now() - timezone.timedelta(seconds=42))
    calls.call_ended(provider_call_id="CA1", provider_status="completed", key="end")
    call.refresh_from_db()
    assert call.status == CallStatus.ABANDONED and 42 <= call.wait_seconds <= 60
    assert WorkItem.objects.get(conversation_id=call.conversation_id).state == ItemState.CANCELLED
    assert Conversation.objects.get(pk=call.conversation_id).status == ConversationStatus.CLOSED
    event = TimelineEvent.objects.get(kind="call.abandoned")
    assert event.payload["wait_seconds"] == call.wait_seconds


def test_a_callback_keeps_the_callers_place_and_the_accepting_agent_calls_them(performed):
    first = ring(number="+34600000001", call_id="CA-first")
    second = ring(number="+34600000002", call_id="CA-second")
    calls.call_callback_requested(provider_call_id="CA-first", key="cb")
    calls.call_ended(provider_call_id="CA-first", provider_status="completed", key="end")
    first.refresh_from_db()
    assert first.status == CallStatus.CALLBACK_REQUESTED  # not abandoned: they will be called
    assert WorkItem.objects.get(conversation_id=first.conversation_id).state == ItemState.WAITING

    agent = online_agent()  # the first in line is offered first: its place was kept
    item = WorkItem.objects.get(conversation_id=first.conversation_id)
    assert item.state == ItemState.OFFERED and item.agent_id == agent.pk
    assert WorkItem.objects.get(conversation_id=second.conversation_id).state == ItemState.WAITING
    services.offer_accept(item_id=item.pk, user=agent.user)
    callback = Call.objects.get(conversation_id=first.conversation_id, reason="callback")
    assert (callback.direction, callback.status, callback.contact_number) == ("out", "connecting", "+34600000001")
    call_actions.call_actions_drain()
    assert performed == [("dial", callback.pk, agent.user_id)]
    callback.refresh_from_db()
    assert callback.provider_call_id == f"CA-out-{callback.pk}"
    first.refresh_from_db()
    assert first.status == CallStatus.CALLED_BACK

    calls.call_ended(provider_call_id=callback.provider_call_id, provider_status="no-answer", key="end")
    callback.refresh_from_db()
    assert callback.status == CallStatus.MISSED
    assert "not_answered" in kinds(callback)


def test_an_agent_on_a_call_takes_no_new_chats_while_their_profile_says_so(performed):
    agent = online_agent(languages=["es"])
    call = ring()
    services.offer_accept(item_id=WorkItem.objects.get(conversation_id=call.conversation_id).pk, user=agent.user)
    assert not AgentSlot.objects.filter(agent=agent, channel="chat", available=True).exists()
    chat = services.conversation_open(contact=ContactFactory(preferred_language="es"), channel="chat")
    assert WorkItem.objects.get(conversation_id=chat.pk).state == ItemState.WAITING

    # The call's conversation resolved: the chat comes to them at once.
    services.conversation_resolve(conversation_id=call.conversation_id, user=agent.user,
                                  contact_reason=_reason())
    item = WorkItem.objects.get(conversation_id=chat.pk)
    assert item.state == ItemState.OFFERED and item.agent_id == agent.pk


def test_an_agent_whose_profile_allows_it_takes_chats_on_a_call(performed):
    agent = online_agent(languages=["es"], no_chats_on_call=False)
    call = ring()
    services.offer_accept(item_id=WorkItem.objects.get(conversation_id=call.conversation_id).pk, user=agent.user)
    chat = services.conversation_open(contact=ContactFactory(preferred_language="es"), channel="chat")
    assert WorkItem.objects.get(conversation_id=chat.pk).agent_id == agent.pk


def _reason() -> str:
    from conversations.models import ContactReason

    return ContactReason.objects.get_or_create(key="other", defaults={"label": "Other"})[0].key


def test_a_missed_ring_is_recorded_and_the_call_rings_the_next_agent(performed):
    first = online_agent()
    call = ring()
    item = WorkItem.objects.get(conversation_id=call.conversation_id)
    assert item.agent_id == first.pk
    second = online_agent()
    services.offer_decline(item_id=item.pk, user=first.user)
    item.refresh_from_db()
    assert item.agent_id == second.pk
    call_rings_copy()
    call_rings_copy()  # drained once: nothing more
    rings = list(CallEvent.objects.filter(call=call, kind__in=["offered", "missed"])
                 .values_list("kind", "agent_id"))
    assert rings == [("offered", first.user_id), ("missed", first.user_id), ("offered", second.user_id)]


def test_chats_offers_write_no_ring_entries():
    profile = online_agent()
    conversation_assigned(profile)
    assert not OutboxEntry.objects.filter(consumer="conversations.call_rings").exists()


def test_transfers_reconnect_the_caller(performed):
    first, second = online_agent(), online_agent()
    call = ring()
    item = WorkItem.objects.get(conversation_id=call.conversation_id)
    holder = first if item.agent_id == first.pk else second
    other = second if holder is first else first
    services.offer_accept(item_id=item.pk, user=holder.user)
    calls.call_answered(provider_call_id="CA1", key="bridged")
    services.conversation_transfer(conversation_id=call.conversation_id, user=holder.user,
                                   agent_user_id=other.user_id)
    call.refresh_from_db()
    assert call.agent_id == other.user_id
    call_actions.call_actions_drain()
    assert performed == [("connect", call.pk, holder.user_id), ("connect", call.pk, other.user_id)]
    assert "transferred" in kinds(call)


def test_a_provider_that_refuses_fails_the_call_and_one_that_is_down_is_tried_again(performed):
    agent = online_agent()
    call = ring()
    performed.behaviour["raise"] = TransportRetry("down")
    services.offer_accept(item_id=WorkItem.objects.get(conversation_id=call.conversation_id).pk, user=agent.user)
    call_actions.call_actions_drain()
    assert CallAction.objects.get(call=call).done_at is None
    assert OutboxEntry.objects.filter(consumer="conversations.calls", attempts=1).exists()
    performed.behaviour["raise"] = TransportRefused("number blocked")
    call_actions.call_actions_drain()
    call.refresh_from_db()
    assert call.status == CallStatus.FAILED and call.detail == "number blocked"


def test_agents_act_only_on_their_own_calls(performed):
    from supportdesk.errors import NotFound

    agent, stranger = online_agent(), online_agent()
    call = ring()
    item = WorkItem.objects.get(conversation_id=call.conversation_id)
    holder = agent if item.agent_id == agent.pk else stranger
    other = stranger if holder is agent else agent
    services.offer_accept(item_id=item.pk, user=holder.user)
    calls.call_answered(provider_call_id="CA1", key="bridged")
    with pytest.raises(NotFound):
        calls.call_hold(conversation_id=call.conversation_id, user=other.user, hold=True)
    with pytest.raises(NotFound):
        calls.call_hangup(conversation_id=call.conversation_id, user=other.user)
    calls.call_hangup(conversation_id=call.conversation_id, user=holder.user)
    calls.call_hangup(conversation_id=call.conversation_id, user=holder.user)
    assert CallAction.objects.filter(call=call, kind="hangup").count() == 1


# --- the workspace ---------------------------------------------------------------------------------


def test_the_ring_shows_in_the_workspace_and_the_call_panel_follows_the_call(client, performed):
    from django.urls import reverse

    agent = online_agent()
    call = ring(number="+34600999888")
    client.force_login(agent.user)
    offers = client.get(reverse("desk:offers")).content.decode()
    assert 'data-testid="offer-ringing"' in offers and "+34600999888" in offers and "Answer" in offers

    item = WorkItem.objects.get(conversation_id=call.conversation_id)
    page = client.post(reverse("desk:offer_accept", args=[item.pk]), HTTP_HX_REQUEST="true")
    assert page.status_code == 200
    assert 'data-testid="call-panel"' in page.content.decode()
    calls.call_answered(provider_call_id="CA1", key="bridged")

    panel = client.post(reverse("desk:call_hold", args=[call.conversation_id]), HTTP_HX_REQUEST="true")
    html = panel.content.decode()
    assert 'data-testid="call-resume"' in html and 'data-kind="held"' in html
    panel = client.post(reverse("desk:call_resume", args=[call.conversation_id]), HTTP_HX_REQUEST="true")
    assert 'data-testid="call-hold"' in panel.content.decode()
    client.post(reverse("desk:call_hangup", args=[call.conversation_id]), HTTP_HX_REQUEST="true")
    calls.call_ended(provider_call_id="CA1", provider_status="completed", duration_seconds=95, key="end")
    html = client.get(reverse("desk:call_panel", args=[call.conversation_id])).content.decode()
    assert "1 min 35 s" in html and 'data-testid="call-actions"' not in html
    assert 'data-status="completed"' in html


def test_hold_without_a_call_is_a_clear_refusal(client):
    from django.urls import reverse

    profile = online_agent()
    conversation = conversation_assigned(profile)
    client.force_login(profile.user)
    response = client.post(reverse("desk:call_hold", args=[conversation.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    assert "no call in progress" in response.content.decode()


def test_a_recording_link_is_only_ever_a_web_address(performed):
    call = ring()
    calls.call_recording(provider_call_id="CA1", url="javascript:alert(1)", key="rec")
    call.refresh_from_db()
    assert call.recording_url == ""


def test_seconds_in_words():
    from conversations.templatetags.desk_messages import seconds_spoken

    assert [seconds_spoken(value) for value in (0, 45, 95, 3720, None, "x")] == [
        "0 s", "45 s", "1 min 35 s", "1 h 2 min", "", ""]


def test_waits_and_lengths_are_the_callers_however_late_the_reports_are_applied(performed):
    from datetime import timedelta

    posted = timezone.now() - timedelta(minutes=10)  # the worker was down: applied ten minutes late
    contact = ContactFactory(phone="+34600555444")
    calls.call_incoming(contact=contact, provider_call_id="CA-late", contact_number="+34600555444", at=posted)
    calls.call_language_chosen(provider_call_id="CA-late", language="es", key="menu",
                               at=posted + timedelta(seconds=8))
    calls.call_ended(provider_call_id="CA-late", provider_status="completed", key="end",
                     at=posted + timedelta(seconds=50))
    call = Call.objects.get(provider_call_id="CA-late")
    assert (call.status, call.wait_seconds) == (CallStatus.ABANDONED, 42)
    assert call.created_at == posted and call.ended_at == posted + timedelta(seconds=50)
    assert CallEvent.objects.get(call=call, kind="abandoned").at == posted + timedelta(seconds=50)


def test_a_call_takes_internal_notes_and_refuses_written_replies(client, performed):
    from django.urls import reverse

    from supportdesk.errors import DomainError

    agent = online_agent()
    call = ring()
    services.offer_accept(item_id=WorkItem.objects.get(conversation_id=call.conversation_id).pk, user=agent.user)
    with pytest.raises(DomainError, match="no written replies"):
        services.agent_reply(conversation_id=call.conversation_id, user=agent.user, body="Hello")
    client.force_login(agent.user)
    page = client.get(reverse("desk:conversation", args=[call.conversation_id])).content.decode()
    assert 'data-testid="notes-only"' in page and 'data-testid="note-toggle"' not in page
    note = client.post(reverse("desk:message_send", args=[call.conversation_id]),
                       {"body": "Caller wants a refund", "note": "1"}, HTTP_HX_REQUEST="true")
    assert note.status_code == 201
    refused = client.post(reverse("desk:message_send", args=[call.conversation_id]), {"body": "Hi"},
                          HTTP_HX_REQUEST="true")
    assert refused.status_code == 400 and "internal note" in refused.content.decode()
