"""Proactive calls from a chat (seed 002): the rules for offering one, the invitation and its
signed link, the customer's consent or refusal, and the supervisors' counts
(conversations.services.proactive_calls, conversations.call_invitations)."""

from __future__ import annotations

import importlib
import re
import time
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from conversations import calls as call_actions
from conversations import selectors
from conversations.admin import MacroForm
from conversations.call_links import SALT, call_invitation_from_token, call_invitation_token
from conversations.calls import Performed
from conversations.models import (
    Call,
    CallAction,
    CallEvent,
    CallInvitation,
    CallInvitationState,
    CallReason,
    ContactReason,
    Conversation,
    Macro,
    Message,
)
from conversations.services import calls
from conversations.services.proactive_calls import (
    MAX_CONCURRENT_CHATS,
    OfferFacts,
    Rule,
    call_invitation_send,
    call_offer_check,
    call_offer_rules,
)
from supportdesk.errors import Conflict
from tests.factories import AgentProfileFactory, SupervisorFactory
from tests.scenarios import conversation_assigned, online_agent

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def performed(monkeypatch):
    """A voice provider that records what it was asked (as in tests/conversations/test_calls.py)."""
    done: list[tuple[str, int, int | None]] = []

    def perform(action: CallAction, call: Call) -> Performed:
        done.append((action.kind, call.pk, action.agent_id))
        return Performed(outcome="ok", provider_call_id=f"CA-out-{call.pk}" if action.kind == "dial" else "")

    monkeypatch.setattr(call_actions, "_provider", [perform])
    return done


@pytest.fixture
def late_order():
    return ContactReason.objects.create(key="late_order", label="Late order", calls_enabled=True)


@pytest.fixture
def agent(late_order):
    return online_agent(languages=["es", "en"])


def chat(agent, *, language: str = "es", reason: str = "late_order", phone: str = "+34612345678") -> Conversation:
    """A chat assigned to `agent`, in `language`, about `reason`, with a customer reachable at `phone`."""
    conversation = conversation_assigned(agent)
    Conversation.objects.filter(pk=conversation.pk).update(language=language, contact_reason=reason)
    conversation.contact.phone = phone
    conversation.contact.preferred_language = language
    conversation.contact.save()
    conversation.refresh_from_db()
    return conversation


def desk_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def send(conversation, agent, **fields) -> CallInvitation:
    return call_invitation_send(conversation_id=conversation.pk, agent=agent.user, **fields)


def page_url(invitation: CallInvitation) -> str:
    return reverse("call-invitation", kwargs={"token": call_invitation_token(invitation)})


def rules(conversation, agent) -> list[str]:
    return [failed.rule for failed in call_offer_check(conversation, agent.user)]


# --- the rules ---------------------------------------------------------------------------------------


def test_every_rule_holds_so_the_button_is_enabled(agent):
    conversation = chat(agent)

    assert call_offer_check(conversation, agent.user) == []
    panel = desk_client(agent.user).get(reverse("desk:call_invitation", args=[conversation.pk]), **HTMX)
    html = panel.content.decode()
    assert panel.status_code == 200
    assert re.search(r'<button type="submit" data-testid="call-invite-button">', html)
    assert 'data-testid="call-invite-reason"' not in html


def test_the_open_chat_loads_the_panel_below_the_composer_and_other_channels_do_not(agent):
    conversation = chat(agent)
    client = desk_client(agent.user)
    url = reverse("desk:conversation", args=[conversation.pk])

    page = client.get(url, **HTMX).content.decode()
    assert f'data-testid="call-invite" hx-get="{reverse("desk:call_invitation", args=[conversation.pk])}"' in page
    assert page.index('id="composer"') < page.index('data-testid="call-invite"')
    Conversation.objects.filter(pk=conversation.pk).update(channel="email")
    assert 'data-testid="call-invite"' not in client.get(url, **HTMX).content.decode()


def _no_contact_reason(agent, conversation):
    Conversation.objects.filter(pk=conversation.pk).update(contact_reason="")


def _reason_not_enabled(agent, conversation):
    ContactReason.objects.create(key="refund", label="Refund request", calls_enabled=False)
    Conversation.objects.filter(pk=conversation.pk).update(contact_reason="refund")


def _three_chats(agent, conversation):
    chat(agent)
    chat(agent)


def _other_language(agent, conversation):
    Conversation.objects.filter(pk=conversation.pk).update(language="ko")


def _customer_said_chat(agent, conversation):
    CallInvitation.objects.create(conversation=conversation, agent=agent.user, state=CallInvitationState.REFUSED,
                                  answered_at=timezone.now())


@pytest.mark.parametrize(("break_rule", "rule", "message"), [
    (_no_contact_reason, Rule.CONTACT_REASON, "Choose a contact reason enabled for calls."),
    (_reason_not_enabled, Rule.CONTACT_REASON, "Calls are not enabled for the contact reason “Refund request”"),
    (_three_chats, Rule.CONCURRENCY, "You are handling 3 chats at once: a call may be offered with at most 2."),
    (_other_language, Rule.LANGUAGE, "You do not speak the customer's language (ko)."),
    (_customer_said_chat, Rule.CUSTOMER_REFUSED, "The customer chose to continue in chat in this conversation"),
], ids=["no-contact-reason", "reason-not-enabled", "three-chats", "language", "customer-refused"])
def test_each_rule_alone_disables_the_button_and_refuses_the_send_naming_it(agent, break_rule, rule, message):
    conversation = chat(agent)
    break_rule(agent, conversation)
    conversation.refresh_from_db()
    client = desk_client(agent.user)
    url = reverse("desk:call_invitation", args=[conversation.pk])

    assert rules(conversation, agent) == [rule]
    panel = client.get(url, **HTMX).content.decode()
    assert re.search(r'data-testid="call-invite-button" disabled', panel)
    assert f'data-rule="{rule}"' in panel and message in panel.replace("&#x27;", "'").replace("&quot;", '"')

    refused = client.post(url, {"client_id": "try-1"}, **HTMX)
    assert refused.status_code == 409
    assert 'data-code="call_offer_refused"' in refused.content.decode()
    assert message in refused.content.decode().replace("&#x27;", "'")
    with pytest.raises(Conflict) as error:
        send(conversation, agent)
    assert error.value.details[0]["rule"] == rule
    assert not CallInvitation.objects.filter(conversation=conversation).exclude(
        state=CallInvitationState.REFUSED).exists()


@pytest.mark.parametrize(("chats", "allowed"), [(1, True), (2, True), (3, False)])
def test_concurrency_counts_the_agents_assigned_chats_at_most_two(chats, allowed):
    facts = OfferFacts(channel="chat", contact_reason="late_order", contact_reason_label="Late order",
                       contact_reason_calls_enabled=True, assigned_chats=chats, customer_language="es",
                       agent_languages=("es",), customer_refused=False, invitation_pending=False)

    assert MAX_CONCURRENT_CHATS == 2
    assert (call_offer_rules(facts) == []) is allowed


def test_only_assigned_chats_count_towards_concurrency(agent):
    conversation = chat(agent)
    chat(agent)
    # Emails and chats offered but not accepted hold no chat at once.
    from routing.models import WorkItem
    WorkItem.objects.filter(conversation_id=chat(agent).pk).update(channel="email")

    assert rules(conversation, agent) == []


def test_the_agent_sets_a_contact_reason_without_resolving_and_the_button_enables(agent):
    conversation = chat(agent, reason="")
    client = desk_client(agent.user)

    response = client.post(reverse("desk:contact_reason_set", args=[conversation.pk]),
                           {"contact_reason": "late_order"}, **HTMX)

    assert response.status_code == 200
    assert re.search(r'<button type="submit" data-testid="call-invite-button">', response.content.decode())
    conversation.refresh_from_db()
    assert (conversation.contact_reason, conversation.status) == ("late_order", "open")
    unknown = client.post(reverse("desk:contact_reason_set", args=[conversation.pk]),
                          {"contact_reason": "nope"}, **HTMX)
    assert unknown.status_code == 400


# --- sending ------------------------------------------------------------------------------------------


def test_sending_posts_a_signed_link_in_the_customers_language_once_however_often_it_is_posted(agent):
    conversation = chat(agent, language="es")
    client = desk_client(agent.user)
    url = reverse("desk:call_invitation", args=[conversation.pk])

    first = client.post(url, {"client_id": "invite-1"}, **HTMX)
    again = client.post(url, {"client_id": "invite-1"}, **HTMX)  # a double click, a retried POST

    assert (first.status_code, again.status_code) == (201, 200)
    invitation = CallInvitation.objects.get(conversation=conversation)
    assert (invitation.reason, invitation.state, invitation.agent_id) == ("proactive", "sent", agent.user_id)
    message = Message.objects.get(conversation=conversation, channel_metadata__call_invitation=invitation.pk)
    assert message.direction == "out" and message.author_user_id == agent.user_id
    # The link in the message opens this invitation (its signature carries the second it was made).
    link = re.search(r"/call/([^/\s]+)/", message.body)
    assert "Podemos llamarte" in message.body and link is not None
    assert call_invitation_from_token(link.group(1)).pk == invitation.pk
    assert Message.objects.filter(conversation=conversation, direction="out").count() == 1
    # A new click while the customer has not answered yet is refused, naming why.
    pending = client.post(url, {"client_id": "invite-2"}, **HTMX)
    assert pending.status_code == 409 and "waiting for the customer" in pending.content.decode()
    assert 'data-state="sent"' in client.get(url, **HTMX).content.decode()


def test_customer_stopped_answering_is_recorded_as_an_inactivity_invitation_and_call(agent, performed):
    conversation = chat(agent)
    desk_client(agent.user).post(reverse("desk:call_invitation", args=[conversation.pk]),
                                 {"client_id": "idle-1", "reason": "inactivity"}, **HTMX)
    invitation = CallInvitation.objects.get(conversation=conversation)

    Client().post(page_url(invitation), {"choice": "call", "phone": "+34612345678"})

    invitation.refresh_from_db()
    assert invitation.reason == CallReason.INACTIVITY != CallReason.PROACTIVE
    assert invitation.call.reason == CallReason.INACTIVITY


# --- the customer's link ------------------------------------------------------------------------------


def test_consent_places_a_proactive_call_and_its_end_completes_the_invitation(agent, performed):
    conversation = chat(agent, phone="+34612345678")
    invitation = send(conversation, agent, client_id="c-1")
    client = Client()

    shown = client.get(page_url(invitation))
    assert shown.status_code == 200
    assert 'value="+34612345678"' in shown.content.decode()  # prefilled from the contact
    answered = client.post(page_url(invitation), {"choice": "call", "phone": "612 34 56 78"})

    assert answered.status_code == 200 and 'data-state="accepted"' in answered.content.decode()
    invitation.refresh_from_db()
    assert invitation.state == CallInvitationState.ACCEPTED and invitation.answered_at is not None
    assert invitation.phone == "+34612345678"  # national digits read in the contact's country, E.164
    call = invitation.call
    assert (call.reason, call.direction, call.agent_id, call.contact_number, call.conversation_id) == (
        CallReason.PROACTIVE, "out", agent.user_id, "+34612345678", conversation.pk)
    assert call_actions.call_actions_drain() == 1
    assert performed == [("dial", call.pk, agent.user_id)]

    calls.call_answered(provider_call_id=f"CA-out-{call.pk}", key="answered")
    calls.call_ended(provider_call_id=f"CA-out-{call.pk}", provider_status="completed", duration_seconds=73,
                     key="ended")

    invitation.refresh_from_db()
    assert invitation.state == CallInvitationState.COMPLETED
    ended = CallEvent.objects.get(call=call, kind="ended")
    assert ended.detail["duration_seconds"] == 73


def test_a_call_nobody_answers_fails_the_invitation(agent, performed):
    invitation = send(chat(agent), agent)
    Client().post(page_url(invitation), {"choice": "call", "phone": "+34612345678"})
    call_actions.call_actions_drain()
    invitation.refresh_from_db()

    calls.call_ended(provider_call_id=f"CA-out-{invitation.call_id}", provider_status="no-answer", key="end")

    invitation.refresh_from_db()
    assert invitation.state == CallInvitationState.FAILED


def test_a_wrong_number_is_explained_and_nothing_is_placed(agent):
    invitation = send(chat(agent), agent)

    response = Client().post(page_url(invitation), {"choice": "call", "phone": "12"})

    assert response.status_code == 400 and 'data-testid="consent-errors"' in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.state == CallInvitationState.SENT and not Call.objects.exists()


def test_refusal_is_recorded_and_refuses_further_offers_in_that_conversation(agent):
    conversation = chat(agent)
    invitation = send(conversation, agent)

    response = Client().post(page_url(invitation), {"choice": "chat"})

    assert response.status_code == 200 and 'data-state="refused"' in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.state == CallInvitationState.REFUSED and invitation.answered_at is not None
    assert not Call.objects.exists()
    assert rules(conversation, agent) == [Rule.CUSTOMER_REFUSED]
    with pytest.raises(Conflict):
        send(conversation, agent, client_id="again")
    # Another chat of the same customer may be offered a call again.
    other = chat(agent)
    assert rules(other, agent) == []


def test_a_used_link_gets_a_clear_page(agent, performed):
    invitation = send(chat(agent), agent)
    client = Client()
    client.post(page_url(invitation), {"choice": "call", "phone": "+34612345678"})

    shown, posted = client.get(page_url(invitation)), client.post(page_url(invitation), {"choice": "chat"})

    assert shown.status_code == posted.status_code == 410
    assert 'data-code="invitation_answered"' in posted.content.decode()
    invitation.refresh_from_db()
    assert invitation.state == CallInvitationState.ACCEPTED and Call.objects.count() == 1


class _SignedLongAgo(signing.TimestampSigner):
    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time()) - 31 * 60)


def test_an_expired_link_gets_a_clear_page(agent):
    invitation = send(chat(agent), agent)
    token = _SignedLongAgo(salt=SALT).sign_object({"i": invitation.pk})
    url = reverse("call-invitation", kwargs={"token": token})

    shown, posted = Client().get(url), Client().post(url, {"choice": "call", "phone": "+34612345678"})

    assert shown.status_code == posted.status_code == 410
    assert 'data-code="link_expired"' in shown.content.decode()
    # The invitation itself also lapses after the half hour, whatever the token says.
    CallInvitation.objects.filter(pk=invitation.pk).update(created_at=timezone.now() - timedelta(minutes=31))
    assert Client().get(page_url(invitation)).status_code == 410
    invitation.refresh_from_db()
    assert invitation.state == CallInvitationState.SENT and not Call.objects.exists()


@pytest.mark.parametrize("forge", [
    lambda token: token[:-4] + "abcd",  # the signature edited
    lambda token: signing.dumps({"i": 1}, salt="workflows.surveys.link"),  # signed for something else
    lambda token: signing.dumps({"i": 999999999}, salt=SALT),  # an invitation that does not exist
    lambda token: "not-a-token",
    lambda token: "x" * 600,
], ids=["edited", "other-salt", "no-such-invitation", "garbage", "too-long"])
def test_a_forged_link_gets_a_clear_page(agent, forge):
    invitation = send(chat(agent), agent)
    url = reverse("call-invitation", kwargs={"token": forge(call_invitation_token(invitation))})

    shown, posted = Client().get(url), Client().post(url, {"choice": "call", "phone": "+34612345678"})

    assert shown.status_code == posted.status_code == 400
    assert 'data-code="link_invalid"' in posted.content.decode()
    invitation.refresh_from_db()
    assert invitation.state == CallInvitationState.SENT


def test_a_link_whose_chat_has_ended_gets_a_clear_page(agent):
    conversation = chat(agent)
    invitation = send(conversation, agent)
    Conversation.objects.filter(pk=conversation.pk).update(status="resolved")

    response = Client().get(page_url(invitation))

    assert response.status_code == 410 and 'data-code="conversation_closed"' in response.content.decode()


@pytest.mark.parametrize(("language", "texts"), [
    ("es", ["¿Quieres que te llamemos?", "Llamadme ahora", "Seguir en el chat", 'lang="es"']),
    ("ko", ["전화를 받으시겠어요?", "지금 전화해 주세요", "채팅으로 계속하기", 'lang="ko"']),
    ("ar", ["هل تريد أن نتصل بك؟", "اتصلوا بي الآن", "متابعة المحادثة", '<html lang="ar" dir="rtl">']),
])
def test_the_page_speaks_the_customers_language(language, texts):
    agent = online_agent(languages=sorted({"es", language}))  # routing offers the set-up chat in Spanish
    ContactReason.objects.create(key="late_order", label="Late order", calls_enabled=True)
    conversation = chat(agent, language=language, phone="+821012345678" if language == "ko" else "+34612345678")
    invitation = send(conversation, agent)

    page = Client().get(page_url(invitation)).content.decode()
    refused = Client().post(page_url(invitation), {"choice": "chat"}).content.decode()

    for text in texts:
        assert text in page
    assert "Would you like us to call you?" not in page
    refused_texts = {"es": "Seguimos en el chat", "ko": "채팅으로 계속 도와드릴게요", "ar": "سنتابع في المحادثة"}
    assert refused_texts[language] in refused


# --- the supervisors' counts --------------------------------------------------------------------------


def test_supervisors_see_offered_accepted_refused_and_completed_per_agent_and_inactivity_apart(agent):
    other = AgentProfileFactory(user__username="zoe")
    conversation = chat(agent)
    states = [("proactive", "sent"), ("proactive", "accepted"), ("proactive", "refused"),
              ("proactive", "completed"), ("proactive", "completed"), ("inactivity", "refused")]
    for reason, state in states:
        CallInvitation.objects.create(conversation=conversation, agent=agent.user, reason=reason, state=state)
    CallInvitation.objects.create(conversation=conversation, agent=other.user, reason="inactivity",
                                  state="completed")
    old = CallInvitation.objects.create(conversation=conversation, agent=other.user, state="refused")
    CallInvitation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))

    counts = {(row["agent_id"], row["reason"]): (row["offered"], row["accepted"], row["refused"], row["completed"])
              for row in selectors.call_invitation_counts(since=timezone.now() - timedelta(days=7))}

    assert counts == {(agent.user_id, "proactive"): (5, 3, 1, 2), (agent.user_id, "inactivity"): (1, 0, 1, 0),
                      (other.user_id, "inactivity"): (1, 1, 0, 1)}
    page = desk_client(SupervisorFactory()).get(reverse("desk:supervise_call_invitations"))
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count('data-testid="call-invitation-row"') == 3
    assert re.search(rf'data-agent="{agent.user_id}" data-reason="proactive">\s*<td>[^<]*</td>\s*'
                     r'<td data-testid="offered">5</td><td data-testid="accepted">3</td>\s*'
                     r'<td data-testid="refused">1</td><td data-testid="completed">2</td>', html)
    month = desk_client(SupervisorFactory()).get(reverse("desk:supervise_call_invitations") + "?days=30")
    assert month.content.decode().count('data-testid="call-invitation-row"') == 4
    assert desk_client(agent.user).get(reverse("desk:supervise_call_invitations")).status_code == 403


# --- the #ccproactivecall macro -----------------------------------------------------------------------

LANGUAGES = ("en", "es", "pt", "ko", "fr", "de", "it", "ca", "pl", "ro", "uk", "ka", "ar")


def test_the_offer_macro_ships_in_every_desk_language_and_expands_in_the_chats_own(agent):
    migration = importlib.import_module("conversations.migrations.0012_ccproactivecall_macros")
    Macro.objects.filter(shortcut="ccproactivecall").delete()  # a transactional test may have emptied them
    migration.macros_write(django_apps, None)
    migration.macros_write(django_apps, None)  # again: nothing doubles

    macros = Macro.objects.filter(shortcut="ccproactivecall")
    assert set(LANGUAGES) | {""} <= set(macros.values_list("language", flat=True))
    for macro in macros:
        form = MacroForm(data={"shortcut": macro.shortcut, "title": macro.title, "language": macro.language,
                               "body": macro.body}, instance=macro)
        assert form.is_valid(), (macro.language, form.errors)
    conversation = chat(agent, language="es")
    conversation.contact.name = "Lucía Pérez"
    conversation.contact.save()
    text = selectors.macros_for(conversation=conversation, agent=agent.user)["ccproactivecall"]
    assert text.startswith("Hola, Lucía") and "Llamadme ahora" in text


def test_the_migration_replaces_the_demos_old_text_and_keeps_a_supervisors():
    migration = importlib.import_module("conversations.migrations.0012_ccproactivecall_macros")
    Macro.objects.filter(shortcut="ccproactivecall").delete()
    Macro.objects.create(shortcut="ccproactivecall", language="es", title="Old", body=migration.DEMO_TEXTS[1])
    Macro.objects.create(shortcut="ccproactivecall", language="fr", title="Mine", body="Mon texte")

    migration.macros_write(django_apps, None)

    assert "Llamadme ahora" in Macro.objects.get(shortcut="ccproactivecall", language="es").body
    assert Macro.objects.get(shortcut="ccproactivecall", language="fr").body == "Mon texte"
