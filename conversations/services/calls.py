"""Phone calls: what the voice provider reports about a call, and what agents do with one.

The provider module (integrations) finds the contact from the caller's number and calls the
`call_*` reports below, each idempotent on the provider's call id and a key naming the report
(a provider's retry records nothing twice). Agents act through the `call_*` use cases at the
end; what the provider must do is stored as a `CallAction` and sent by `conversations.calls`.

The life of an inbound call: ringing (the caller hears the language menu; the conversation is
open, not yet routed) -> queued (the menu's choice is the routing language; a work item on
channel `voice` waits for an agent, whose workspace rings with accept and decline) ->
connecting (an agent accepted: the provider bridges the caller to them) -> in progress ->
held and resumed, transferred -> completed (with its duration and recording). A caller who
hangs up before an agent answered abandoned it (with the wait); one who asks for a callback
keeps their place in the queue, and the agent who accepts it has the desk call them back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from conversations import calls as provider
from conversations import push
from conversations.access import access_conversation
from conversations.models import (
    CALL_ENDED,
    Call,
    CallActionKind,
    CallEvent,
    CallEventKind,
    CallInvitation,
    CallInvitationState,
    CallReason,
    CallStatus,
    Channel,
    Conversation,
    ConversationStatus,
    MessageDirection,
)
from conversations.selectors import author_name
from conversations.services.common import ABANDONED, timeline_actor
from conversations.services.conversations import conversation_open, conversation_route, conversation_status_set
from routing import services as routing
from supportdesk.errors import Conflict, DomainError
from timeline import events
from timeline.models import Contact

ANSWERED = (CallStatus.IN_PROGRESS, CallStatus.ON_HOLD)
WAITING = (CallStatus.RINGING, CallStatus.QUEUED, CallStatus.CONNECTING)
# Provider statuses that end a call nobody answered.
UNANSWERED = {"busy", "no-answer", "canceled"}


def _seconds(start: datetime | None, end: datetime) -> int | None:
    return None if start is None else max(int((end - start).total_seconds()), 0)


def _event(call: Call, kind: str, *, at: datetime | None = None, agent: Any = None, key: str = "",
           **detail: Any) -> bool:
    """Record a step of the call once per key: on the call, on the contact's timeline, and
    pushed to the desk. False when that key was recorded before."""
    at = at or timezone.now()
    if key and CallEvent.objects.filter(call=call, key=key[:128]).exists():
        return False
    try:
        with transaction.atomic():
            kept = {name: value for name, value in detail.items() if value not in ("", None)}
            CallEvent.objects.create(call=call, kind=kind, at=at, agent=agent, key=key[:128], detail=kept)
    except IntegrityError:  # the same report applied at the same moment by another worker
        return False
    conversation = call.conversation
    payload = {"call": call.pk, "reason": call.reason, "agent": author_name(agent) if agent else "", **detail}
    events.call_event(contact_id=conversation.contact_id, conversation_id=conversation.pk, kind=kind,
                      detail={name: value for name, value in payload.items() if value not in ("", None)},
                      occurred_at=at, actor=timeline_actor(agent) if agent else "voice")
    push.call_changed(conversation_id=conversation.pk, call_id=call.pk, status=call.status)
    return True


def _save(call: Call, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(call, name, value)
    call.save(update_fields=[*fields, "updated_at"])


def _locked(provider_call_id: str) -> Call | None:
    return (Call.objects.select_for_update(of=("self",)).select_related("conversation", "agent")
            .filter(provider_call_id=provider_call_id).first()) if provider_call_id else None


# --- what the provider reports ------------------------------------------------------------------


def call_incoming(*, contact: Contact, provider_call_id: str, contact_number: str = "",
                  desk_number: str = "", at: datetime | None = None) -> Call:
    """An inbound call is ringing: a voice conversation for it, waiting for the caller's
    language choice before it is routed. Reported again (any later report of a call the desk
    has not seen yet), the first one comes back."""
    if not provider_call_id:
        raise DomainError(_("A call needs the provider's id of it."), code="call_id_required")
    with transaction.atomic():
        # One new call at a time per contact, as for the other inbound channels.
        Contact.objects.select_for_update().filter(pk=contact.pk).values_list("pk", flat=True).first()
        call = _locked(provider_call_id)
        if call is not None:
            return call
        conversation = conversation_open(
            contact=contact, channel=Channel.VOICE, route_later=True,
            subject=_("Call from %(number)s") % {"number": contact_number or _("an unknown number")})
        call = Call.objects.create(conversation=conversation, provider_call_id=provider_call_id[:64],
                                   direction=MessageDirection.INBOUND, reason=CallReason.INBOUND,
                                   status=CallStatus.RINGING, contact_number=contact_number[:32],
                                   desk_number=desk_number[:32])
        if at is not None:  # when the provider reported it, not when the worker got to it
            Call.objects.filter(pk=call.pk).update(created_at=at)
            call.created_at = at
        _event(call, CallEventKind.RINGING, at=call.created_at, key="ringing", number=contact_number)
    return call


def call_in_menu(conversation_id: int) -> bool:
    """Whether the conversation's caller is still choosing a language (routing waits for it,
    at most VOICE_MENU_SECONDS: then the desk's default language serves)."""
    since = timezone.now() - settings.VOICE_MENU_TIMEOUT
    return Call.objects.filter(conversation_id=conversation_id, status=CallStatus.RINGING,
                               created_at__gt=since).exists()


def call_language_chosen(*, provider_call_id: str, language: str, key: str,
                         at: datetime | None = None) -> Call | None:
    """The caller chose a language in the menu (empty: none, the desk's default serves): it
    becomes the conversation's routing language and the call waits for an agent."""
    with transaction.atomic():
        call = _locked(provider_call_id)
        if call is None or call.status != CallStatus.RINGING:
            return call
        language = language if language in settings.VOICE_LANGUAGES else settings.CHAT_DEFAULT_LANGUAGE
        Conversation.objects.filter(pk=call.conversation_id).update(language=language)
        at = at or timezone.now()
        _save(call, status=CallStatus.QUEUED, queued_at=at)
        _event(call, CallEventKind.LANGUAGE, at=at, key=key, language=language)
        conversation_route(conversation_id=call.conversation_id)
        _event(call, CallEventKind.QUEUED, at=at, key=f"{key}:queued")
    return call


def call_callback_requested(*, provider_call_id: str, key: str, at: datetime | None = None) -> Call | None:
    """The waiting caller asked to be called back: they may hang up, and keep their place in
    the queue (the work item waits on); the agent who accepts it has the desk call them."""
    with transaction.atomic():
        call = _locked(provider_call_id)
        if call is None or call.status not in (CallStatus.RINGING, CallStatus.QUEUED):
            return call
        _save(call, status=CallStatus.CALLBACK_REQUESTED)
        _event(call, CallEventKind.CALLBACK_REQUESTED, at=at, key=key, number=call.contact_number)
        if call.conversation.routed_at is None:  # asked in the menu: route it now, in the default language
            conversation_route(conversation_id=call.conversation_id)
    return call


def call_answered(*, provider_call_id: str, key: str, at: datetime | None = None) -> Call | None:
    """The provider connected the call (the agent's leg, or the contact picking up a call the desk placed)."""
    with transaction.atomic():
        call = _locked(provider_call_id)
        if call is None or call.status not in (CallStatus.CONNECTING, *WAITING):
            return call
        now = at or timezone.now()
        _save(call, status=CallStatus.IN_PROGRESS, answered_at=call.answered_at or now,
              wait_seconds=call.wait_seconds if call.wait_seconds is not None else _seconds(call.queued_at, now))
        _event(call, CallEventKind.ANSWERED, at=now, agent=call.agent, key=key, wait_seconds=call.wait_seconds)
    return call


def call_ended(*, provider_call_id: str, provider_status: str, key: str,
               duration_seconds: int | None = None, at: datetime | None = None) -> Call | None:
    """The provider's last word on the call (completed, busy, no-answer, canceled, failed):
    completed with its duration if it was answered; abandoned, with the wait, if the caller
    hung up before an agent answered (the conversation closes); not answered for a call the
    desk placed; a caller who asked for a callback keeps their place."""
    with transaction.atomic():
        call = _locked(provider_call_id)
        if call is None or call.status in CALL_ENDED:
            return call
        now = at or timezone.now()
        if call.status == CallStatus.CALLBACK_REQUESTED:
            _save(call, ended_at=now)
            _event(call, CallEventKind.ENDED, at=now, key=key, callback_requested=True)
        elif call.status in ANSWERED or call.answered_at is not None:
            duration = duration_seconds if duration_seconds is not None else _seconds(call.answered_at, now)
            _save(call, status=CallStatus.COMPLETED, ended_at=now, duration_seconds=duration)
            _event(call, CallEventKind.ENDED, agent=call.agent, at=now, key=key, duration_seconds=duration,
                   recording=call.recording_url)
        elif provider_status == "failed":
            _save(call, status=CallStatus.FAILED, ended_at=now, detail=_("The provider could not connect it."))
            _event(call, CallEventKind.FAILED, at=now, key=key)
        elif call.direction == MessageDirection.OUTBOUND:
            _save(call, status=CallStatus.MISSED, ended_at=now, detail=provider_status[:500])
            _event(call, CallEventKind.NOT_ANSWERED, agent=call.agent, at=now, key=key,
                   provider_status=provider_status)
        else:
            _abandon(call, now=now, key=key)
        call_invitation_settle(call)
    return call


def call_invitation_settle(call: Call) -> None:
    """Hook for proactive calls (services.proactive_calls): a call the customer consented to in
    a chat has ended, so its invitation is completed (answered and ended) or failed (missed,
    refused by the provider). In the caller's transaction; nothing for any other call."""
    if call.reason in (CallReason.PROACTIVE, CallReason.INACTIVITY) and call.status in CALL_ENDED:
        completed = call.status == CallStatus.COMPLETED
        state = CallInvitationState.COMPLETED if completed else CallInvitationState.FAILED
        CallInvitation.objects.filter(call_id=call.pk, state=CallInvitationState.ACCEPTED).update(state=state)


def _abandon(call: Call, *, now: datetime, key: str) -> None:
    wait = _seconds(call.queued_at or call.created_at, now)
    _save(call, status=CallStatus.ABANDONED, ended_at=now, wait_seconds=wait)
    _event(call, CallEventKind.ABANDONED, at=now, key=key, wait_seconds=wait)
    conversation = Conversation.objects.select_for_update().get(pk=call.conversation_id)
    if conversation.status in (ConversationStatus.OPEN, ConversationStatus.PENDING) and \
            not Call.objects.filter(conversation_id=conversation.pk).exclude(status__in=CALL_ENDED).exists():
        routing.work_item_cancel(conversation_id=conversation.pk, at=now, reason=ABANDONED)
        conversation_status_set(conversation=conversation, status=ConversationStatus.CLOSED)


def call_recording(*, provider_call_id: str, url: str, key: str,
                   duration_seconds: int | None = None, at: datetime | None = None) -> Call | None:
    """The provider's recording of the call is ready at `url`."""
    with transaction.atomic():
        call = _locked(provider_call_id)
        if call is None or not url.startswith(("https://", "http://")):
            return call  # the desk links to it: nothing but a web address
        _save(call, recording_url=url[:500])
        _event(call, CallEventKind.RECORDING, at=at, key=key, recording=url, duration_seconds=duration_seconds)
    return call


def call_failed(*, call: Call, detail: str) -> None:
    """The provider refused what the desk asked of the call (in the caller's transaction)."""
    call = Call.objects.select_for_update(of=("self",)).select_related("conversation").get(pk=call.pk)
    if call.status in CALL_ENDED:
        return
    _save(call, status=CallStatus.FAILED, ended_at=timezone.now(), detail=detail[:500])
    _event(call, CallEventKind.FAILED, reason_text=detail)
    call_invitation_settle(call)


def call_offer_missed(*, conversation_id: int, agent: Any, at: datetime, declined: bool, key: str) -> None:
    """Routing's offer of the call to an agent was declined or timed out: a missed ring."""
    call = Call.objects.filter(conversation_id=conversation_id).exclude(status__in=CALL_ENDED) \
        .select_related("conversation").order_by("-created_at").first()
    if call is not None:
        _event(call, CallEventKind.MISSED, at=at, agent=agent, key=key, declined=declined)


def call_offered(*, conversation_id: int, agent: Any, at: datetime, key: str) -> None:
    call = Call.objects.filter(conversation_id=conversation_id).exclude(status__in=CALL_ENDED) \
        .select_related("conversation").order_by("-created_at").first()
    if call is not None:
        _event(call, CallEventKind.OFFERED, at=at, agent=agent, key=key)


# --- what agents do ---------------------------------------------------------------------------


def active_call(conversation_id: int, *, lock: bool = False) -> Call | None:
    """The conversation's call that has not ended (the newest), if any."""
    calls = Call.objects.select_related("conversation", "agent").filter(conversation_id=conversation_id) \
        .exclude(status__in=CALL_ENDED)
    if lock:
        calls = calls.select_for_update(of=("self",))
    return calls.order_by("-created_at", "-pk").first()


def _action(call: Call, kind: str, agent: Any = None) -> None:
    count = call.actions.count()
    provider.action_request(call=call, kind=kind, key=f"call:{call.pk}:{count + 1}:{kind}",
                            agent_id=agent.pk if agent is not None else None)


def call_connect_agent(*, conversation_id: int, agent: Any) -> Call | None:
    """The agent took the voice conversation (accepted its ring, or had it transferred to
    them): the provider bridges the waiting caller to them, or, for a caller who asked to be
    called back, calls them. In the caller's transaction."""
    call = active_call(conversation_id, lock=True)
    if call is None or call.agent_id == agent.pk and call.status != CallStatus.CALLBACK_REQUESTED:
        return call
    if call.status == CallStatus.CALLBACK_REQUESTED:
        _save(call, status=CallStatus.CALLED_BACK, ended_at=call.ended_at or timezone.now())
        return call_place(conversation=call.conversation, agent=agent, number=call.contact_number,
                          reason=CallReason.CALLBACK)
    previous = call.agent
    _save(call, agent=agent, status=CallStatus.CONNECTING if call.status in WAITING else call.status)
    _action(call, CallActionKind.CONNECT, agent)
    if previous is not None:
        _event(call, CallEventKind.TRANSFERRED, agent=agent, from_agent=author_name(previous),
               to_agent=author_name(agent))
    return call


def call_requeue(*, conversation_id: int, by: Any) -> Call | None:
    """The call was transferred to a queue: the caller waits again, for the next agent."""
    call = active_call(conversation_id, lock=True)
    if call is None or call.status == CallStatus.CALLBACK_REQUESTED:
        return call
    previous = call.agent
    _save(call, agent=None, status=CallStatus.QUEUED)
    _action(call, CallActionKind.REQUEUE, by)
    _event(call, CallEventKind.TRANSFERRED, agent=by, from_agent=author_name(previous) if previous else "")
    return call


def call_place(*, conversation: Conversation, agent: Any, number: str, reason: str) -> Call:
    """The desk calls the contact and connects the agent (a callback, a proactive call).
    In the caller's transaction; the provider's id of the call arrives when it is placed."""
    if not number:
        raise DomainError(_("The contact has no phone number to call."), code="no_phone_number")
    call = Call.objects.create(conversation=conversation, direction=MessageDirection.OUTBOUND, reason=reason,
                               status=CallStatus.CONNECTING, contact_number=number[:32], agent=agent,
                               queued_at=timezone.now())
    _action(call, CallActionKind.DIAL, agent)
    _event(call, CallEventKind.DIALLED, agent=agent, number=number)
    return call


def _agent_call(conversation_id: int, user: Any) -> Call:
    access_conversation(user=user, conversation_id=conversation_id, act=True)
    call = active_call(conversation_id, lock=True)
    if call is None:
        raise Conflict(_("This conversation has no call in progress."), code="no_call")
    return call


def call_hold(*, conversation_id: int, user: Any, hold: bool) -> Call:
    """Put the caller on hold, or take them off it. Asked again, nothing changes."""
    with transaction.atomic():
        call = _agent_call(conversation_id, user)
        wanted, kind, event = ((CallStatus.ON_HOLD, CallActionKind.HOLD, CallEventKind.HELD) if hold
                               else (CallStatus.IN_PROGRESS, CallActionKind.RESUME, CallEventKind.RESUMED))
        if call.status == wanted:
            return call
        if call.status not in ANSWERED:
            raise Conflict(_("Only a call in progress can be held or resumed."), code="call_not_in_progress")
        _save(call, status=wanted)
        _action(call, kind, user)
        _event(call, event, agent=user)
    return call


def call_hangup(*, conversation_id: int, user: Any) -> Call:
    """End the call from the desk (the provider's report then records how it ended)."""
    with transaction.atomic():
        call = _agent_call(conversation_id, user)
        if not call.actions.filter(kind=CallActionKind.HANGUP).exists():
            _action(call, CallActionKind.HANGUP, user)
    return call
