"""Proactive calls from a chat (seed 002): the agent offers the customer a call with a signed,
single-use link; the customer consents ("call me now") or stays in chat.

The rules for offering one live in one place, `call_offer_rules` (pure: facts in, failing
rules out), and `call_offer_check` loads the facts for it: the workspace's button, the POST
that sends the invitation and the tests all ask it. The rules, as the seed states them:

1. the chat's contact reason is enabled for calls (`ContactReason.calls_enabled`);
2. the agent handles at most two chats at once (their assigned chat work items);
3. the agent speaks the customer's language (`AgentProfile.languages`);
4. the customer has not chosen to stay in chat in this conversation (a refused invitation).

The desk adds two of its own: calls are offered from chats only, and not while an invitation
is still waiting for the customer's answer (a second link would only confuse them).

An invitation's reason is `proactive`, or `inactivity` when the customer stopped answering
(a distinct reason in the records). Consent places the call through `call_place`, whose
events (answered, ended with duration and outcome) the call services record; when the call
ends, `services.calls.call_invitation_settle` marks the invitation completed or failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import phonenumbers
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext

from conversations.access import access_conversation
from conversations.call_links import LINK_MAX_AGE, LinkExpired, call_invitation_url, expired_message
from conversations.models import (
    CallInvitation,
    CallInvitationState,
    CallReason,
    Channel,
    ContactReason,
    Conversation,
    ConversationStatus,
    MessageDirection,
)
from conversations.services.calls import call_place
from conversations.services.common import check_client_id
from conversations.services.messages import message_create
from routing.models import AgentProfile, ItemState, WorkItem
from supportdesk.errors import Conflict, DomainError

# Rule 2: an agent handling more chats than this at once may not offer a call.
MAX_CONCURRENT_CHATS = 2
INVITATION_REASONS = (CallReason.PROACTIVE, CallReason.INACTIVITY)
ONGOING = (ConversationStatus.OPEN, ConversationStatus.PENDING)


class Rule:
    """The rules' names, as the button, the 409 answer and the tests name them."""

    CHANNEL = "channel"
    CONTACT_REASON = "contact_reason"
    CONCURRENCY = "concurrency"
    LANGUAGE = "language"
    CUSTOMER_REFUSED = "customer_refused"
    PENDING = "invitation_pending"


@dataclass(frozen=True)
class OfferFacts:
    """What the rules look at, loaded once (`call_offer_facts`)."""

    channel: str
    contact_reason: str  # the chat's contact reason key, empty while none is chosen
    contact_reason_label: str
    contact_reason_calls_enabled: bool
    assigned_chats: int  # the agent's assigned chat work items, this one included
    customer_language: str  # the chat's language, else the contact's preferred one
    agent_languages: tuple[str, ...]
    customer_refused: bool  # a refused invitation in this conversation
    invitation_pending: bool  # an invitation sent here, not answered and not expired


@dataclass(frozen=True)
class FailedRule:
    rule: str
    message: str


class CallOfferRefused(Conflict):
    """The offer breaks a rule: 409, naming the rule (and every failing one in `details`)."""

    code = "call_offer_refused"


def call_offer_rules(facts: OfferFacts) -> list[FailedRule]:
    """The rules that fail for these facts, in the seed's order, each with what to tell the agent."""
    failed: list[FailedRule] = []
    if facts.channel != Channel.CHAT:
        failed.append(FailedRule(Rule.CHANNEL, gettext("A call can be offered from a chat only.")))
    if not facts.contact_reason:
        failed.append(FailedRule(Rule.CONTACT_REASON, gettext("Choose a contact reason enabled for calls.")))
    elif not facts.contact_reason_calls_enabled:
        failed.append(FailedRule(Rule.CONTACT_REASON, gettext(
            "Calls are not enabled for the contact reason “%(reason)s”: choose a contact reason enabled for "
            "calls.") % {"reason": facts.contact_reason_label or facts.contact_reason}))
    if facts.assigned_chats > MAX_CONCURRENT_CHATS:
        failed.append(FailedRule(Rule.CONCURRENCY, ngettext(
            "You are handling %(count)s chat at once: a call may be offered with at most %(limit)s.",
            "You are handling %(count)s chats at once: a call may be offered with at most %(limit)s.",
            facts.assigned_chats) % {"count": facts.assigned_chats, "limit": MAX_CONCURRENT_CHATS}))
    if not facts.customer_language:
        failed.append(FailedRule(Rule.LANGUAGE, gettext("The customer's language is not known yet.")))
    elif facts.customer_language not in facts.agent_languages:
        failed.append(FailedRule(Rule.LANGUAGE, gettext(
            "You do not speak the customer's language (%(language)s).") % {"language": facts.customer_language}))
    if facts.customer_refused:
        failed.append(FailedRule(Rule.CUSTOMER_REFUSED, gettext(
            "The customer chose to continue in chat in this conversation: do not offer a call again.")))
    if facts.invitation_pending:
        failed.append(FailedRule(Rule.PENDING, gettext("A call invitation is waiting for the customer's answer.")))
    return failed


def customer_language(conversation: Conversation) -> str:
    return conversation.language or conversation.contact.preferred_language or ""


def call_offer_facts(conversation: Conversation, agent: Any) -> OfferFacts:
    reason = (ContactReason.objects.filter(key=conversation.contact_reason).first()
              if conversation.contact_reason else None)
    languages = AgentProfile.objects.filter(user_id=agent.pk).values_list("languages", flat=True).first() or []
    invitations = CallInvitation.objects.filter(conversation_id=conversation.pk)
    return OfferFacts(
        channel=conversation.channel,
        contact_reason=conversation.contact_reason,
        contact_reason_label=reason.label if reason else "",
        contact_reason_calls_enabled=bool(reason and reason.is_active and reason.calls_enabled),
        assigned_chats=WorkItem.objects.filter(agent__user_id=agent.pk, state=ItemState.ASSIGNED,
                                               channel=Channel.CHAT).count(),
        customer_language=customer_language(conversation),
        agent_languages=tuple(languages),
        customer_refused=invitations.filter(state=CallInvitationState.REFUSED).exists(),
        invitation_pending=invitations.filter(state=CallInvitationState.SENT,
                                              created_at__gt=timezone.now() - LINK_MAX_AGE).exists(),
    )


def call_offer_check(conversation: Conversation, agent: Any) -> list[FailedRule]:
    """The rules that keep this agent from offering a call in this conversation now (none: go ahead)."""
    return call_offer_rules(call_offer_facts(conversation, agent))


# --- the agent sends, the customer answers ---------------------------------------------------------


def invitation_text(*, url: str, language: str) -> str:
    """The chat message that carries the link, in the customer's language."""
    with translation.override(language or None):
        return gettext("We can call you to sort this out faster. Open this link to choose a call now or to "
                       "keep chatting (it works for %(minutes)s minutes): %(url)s") % {
            "minutes": int(LINK_MAX_AGE.total_seconds() // 60), "url": url}


def call_invitation_send(*, conversation_id: int, agent: Any, reason: str = CallReason.PROACTIVE,
                         client_id: Any = "") -> CallInvitation:
    """Offer the customer a call: an invitation and a chat message with its signed link, in the
    customer's language. Sent again with the same `client_id` (a double click, a retried POST),
    the first invitation comes back (`replayed`) and nothing more is sent. Refused with a 409
    naming the rule when `call_offer_check` finds one failing."""
    if reason not in INVITATION_REASONS:
        raise DomainError(gettext("Choose why the call is offered: proactive or inactivity."),
                          code="invalid_call_reason")
    client_id = check_client_id(client_id)
    conversation = access_conversation(user=agent, conversation_id=conversation_id, act=True)
    with transaction.atomic():
        # One send at a time per conversation: two agents' (or two tabs') clicks see each other.
        Conversation.objects.select_for_update().filter(pk=conversation.pk).values_list("pk", flat=True).first()
        if client_id and (earlier := _sent_before(agent=agent, client_id=client_id)) is not None:
            if earlier.conversation_id != conversation.pk:
                raise Conflict(gettext("client_id %(client_id)s was used for another invitation already.")
                               % {"client_id": client_id}, code="client_id_reused")
            return earlier
        if conversation.status not in ONGOING:
            raise Conflict(gettext("This conversation is not open."), code="conversation_not_open")
        failed = call_offer_check(conversation, agent)
        if failed:
            raise CallOfferRefused(failed[0].message,
                                   details=[{"rule": rule.rule, "message": rule.message} for rule in failed])
        try:
            with transaction.atomic():
                invitation = CallInvitation.objects.create(
                    conversation=conversation, agent=agent, reason=reason, client_id=client_id,
                    phone=conversation.contact.phone or "")
        except IntegrityError:  # the same client id sent for another conversation at the same moment
            raise Conflict(gettext("client_id %(client_id)s was used for another invitation already.")
                           % {"client_id": client_id}, code="client_id_reused") from None
        message_create(conversation=conversation, direction=MessageDirection.OUTBOUND, author=agent,
                       body=invitation_text(url=call_invitation_url(invitation),
                                            language=customer_language(conversation)),
                       channel_metadata={"call_invitation": invitation.pk},
                       client_id=f"call-invitation:{invitation.pk}")
    invitation.replayed = False
    return invitation


def _sent_before(*, agent: Any, client_id: str) -> CallInvitation | None:
    invitation = CallInvitation.objects.filter(agent_id=agent.pk, client_id=client_id).first()
    if invitation is not None:
        invitation.replayed = True
    return invitation


class InvitationAnswered(DomainError):
    code = "invitation_answered"
    status_code = 410


class InvitationClosed(DomainError):
    code = "conversation_closed"
    status_code = 410


class InvalidPhone(DomainError):
    code = "invalid_phone"
    status_code = 400


def phone_normalise(number: Any, *, like: str = "") -> str:
    """The number in E.164, or InvalidPhone. Without a country code it is read as a number of
    the country of `like` (the contact's number on file), if any."""
    message = gettext("Enter a valid phone number, with the country code (for example +34 612 345 678).")
    if not isinstance(number, str) or not number.strip() or len(number) > 40:
        raise InvalidPhone(message)
    region = None
    if like:
        try:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(like, None))
        except phonenumbers.NumberParseException:
            region = None
    try:
        parsed = phonenumbers.parse(number.strip(), region)
    except phonenumbers.NumberParseException:
        raise InvalidPhone(message) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhone(message)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def check_invitation_open(invitation: CallInvitation, *, now: Any = None) -> None:
    """An invitation the customer may still answer: sent, not answered, not expired, and its chat ongoing."""
    now = now or timezone.now()
    if invitation.state != CallInvitationState.SENT:
        raise InvitationAnswered(gettext("You have already answered this invitation."))
    if invitation.created_at <= now - LINK_MAX_AGE:
        raise LinkExpired(expired_message())
    if invitation.conversation.status not in ONGOING:
        raise InvitationClosed(gettext("This conversation has ended, so we cannot call you from it."))


def call_invitation_answer(*, invitation_id: int, accept: bool, phone: Any = "") -> CallInvitation:
    """The customer's answer, once: consent (the desk calls `phone`, in E.164, and connects the
    agent) or refusal (no more offers in this conversation). Recorded with its time."""
    with transaction.atomic():
        invitation = (CallInvitation.objects.select_for_update(of=("self",))
                      .select_related("conversation__contact", "agent").get(pk=invitation_id))
        now = timezone.now()
        check_invitation_open(invitation, now=now)
        invitation.answered_at = now
        if not accept:
            invitation.state = CallInvitationState.REFUSED
            invitation.save(update_fields=["state", "answered_at"])
            return invitation
        invitation.phone = phone_normalise(phone, like=invitation.conversation.contact.phone or "")
        invitation.state = CallInvitationState.ACCEPTED
        invitation.call = call_place(conversation=invitation.conversation, agent=invitation.agent,
                                     number=invitation.phone, reason=invitation.reason)
        invitation.save(update_fields=["state", "answered_at", "phone", "call"])
    return invitation


def conversation_contact_reason_set(*, conversation_id: int, user: Any, contact_reason: Any) -> Conversation:
    """Set the chat's contact reason without resolving it (calls are offered by reason)."""
    conversation = access_conversation(user=user, conversation_id=conversation_id, act=True)
    if not isinstance(contact_reason, str) or not ContactReason.objects.filter(key=contact_reason,
                                                                               is_active=True).exists():
        raise DomainError(gettext("Choose one of the contact reasons."), code="invalid_contact_reason")
    if conversation.status not in ONGOING:
        raise Conflict(gettext("This conversation is not open."), code="conversation_not_open")
    Conversation.objects.filter(pk=conversation.pk).update(contact_reason=contact_reason,
                                                           updated_at=timezone.now())
    conversation.contact_reason = contact_reason
    return conversation
