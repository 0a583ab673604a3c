"""The voice provider interface: how the desk tells a phone provider what to do with a call.

`conversations/` defines it and drives it; the provider in `integrations/` implements
`perform` and registers it from its app's `ready()` (nothing here imports a provider), as the
transports of `conversations.channels` do for replies. An action (connect the waiting caller
to the agent who accepted, call the contact and connect an agent, hold, resume, put back to
waiting, hang up) is stored first, in the agent's transaction, with an outbox entry for this
consumer; the consumer drains them one action a transaction and calls the provider:

- done: the action is marked done with the provider's word on it (for a dial, the provider's
  id of the new call is kept on the call, so its reports find it);
- `TransportRetry` (the provider is unreachable or busy): the entry stays, is counted and tried
  again by the next drain, and after `OUTBOX_MAX_ATTEMPTS` it is parked (the admin's *Outbox
  entries* put it back);
- `TransportRefused`: the call is marked failed with the provider's reason.

The provider must be idempotent on the action's key (`CallAction.key`): a drain that dies
after the provider acted sends the action again with the same key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext

from conversations.channels import TransportRefused, TransportRetry
from conversations.models import CALL_ACTION_STREAM, CALL_ENDED, Call, CallAction, CallActionKind, CallStatus
from supportdesk import outbox

log = logging.getLogger(__name__)

CONSUMER = "conversations.calls"


@dataclass(frozen=True)
class Performed:
    outcome: str = ""  # the provider's word on it, kept on the action
    provider_call_id: str = ""  # a dial's new call


# perform(action, call) -> Performed; raises TransportRetry or TransportRefused.
_provider: list[Callable[[CallAction, Call], Performed]] = []


def call_provider_register(*, perform: Callable[[CallAction, Call], Performed]) -> None:
    """A voice provider takes the desk's call actions (a second registration replaces the first)."""
    _provider[:] = [perform]


def call_provider() -> Callable[[CallAction, Call], Performed] | None:
    return _provider[0] if _provider else None


def _kick() -> None:
    from conversations import tasks  # tasks import this module

    tasks.call_actions_send_enqueue()


def _parked(action_id: int, error: str) -> None:
    """The provider did not take the action after OUTBOX_MAX_ATTEMPTS tries: the call says so (a
    supervisor's retry from the admin's Outbox entries sends it)."""
    from conversations import push

    action = CallAction.objects.select_related("call").filter(pk=action_id, done_at__isnull=True).first()
    if action is None:
        return
    detail = gettext("The voice provider did not take “%(action)s” after %(attempts)s tries (%(error)s).") % {
        "action": action.get_kind_display(), "attempts": settings.OUTBOX_MAX_ATTEMPTS,
        "error": error.split("\n", 1)[0][:200]}
    Call.objects.filter(pk=action.call_id).update(detail=detail[:500])
    call = action.call
    push.call_changed(conversation_id=call.conversation_id, call_id=call.pk, status=call.status)


def call_actions_consumer_register() -> None:
    outbox.consumer_register(name=CONSUMER, stream=CALL_ACTION_STREAM, handle=call_actions_apply, kick=_kick,
                             on_park=_parked)


def call_actions_apply(action_ids: list[int]) -> None:
    """The consumer: send each action to the provider (in the drain's transaction; a retry
    raises, so the entry stays and is counted)."""
    from conversations.services.calls import call_failed  # the services write through this module

    for action in CallAction.objects.filter(pk__in=action_ids, done_at__isnull=True).select_related("call") \
            .order_by("pk"):
        call = action.call
        perform = call_provider()
        if call.status in CALL_ENDED and action.kind != CallActionKind.HANGUP:
            _done(action, gettext("The call had ended; nothing to do."))
            continue
        if perform is None:
            _done(action, gettext("No voice provider is configured."))
            call_failed(call=call, detail=gettext("No voice provider is configured."))
            continue
        try:
            performed = perform(action, call)
        except TransportRefused as refusal:
            _done(action, str(refusal))
            call_failed(call=call, detail=str(refusal))
            continue
        except TransportRetry:
            raise
        if performed.provider_call_id and not call.provider_call_id:
            Call.objects.filter(pk=call.pk).update(provider_call_id=performed.provider_call_id[:64])
        _done(action, performed.outcome)


def _done(action: CallAction, outcome: str) -> None:
    CallAction.objects.filter(pk=action.pk).update(done_at=timezone.now(), outcome=outcome[:500])


def call_actions_drain(*, batches: int = 50) -> int:
    """Drain the calls' consumer, one action a transaction (a retried batch would repeat the
    others); the number sent or refused."""
    return outbox.outbox_drain_singly(consumer=CONSUMER, batches=batches)


def action_request(*, call: Call, kind: str, key: str, agent_id: int | None = None) -> CallAction:
    """Store an action for the provider with its outbox entry (in the caller's transaction);
    the same key again (a retried request) returns the first one and sends nothing more."""
    if kind not in CallActionKind.values:
        raise ValueError(f"Unknown call action {kind!r}.")
    earlier = CallAction.objects.filter(key=key).first()
    if earlier is not None:
        return earlier
    action = CallAction(call=call, kind=kind, key=key[:128], agent_id=agent_id)
    action_id, _duplicate = outbox.outbox_create_once(action, stream=CALL_ACTION_STREAM)
    return CallAction.objects.get(pk=action_id)


__all__ = ["CallStatus", "Performed", "TransportRefused", "TransportRetry", "action_request",
           "call_actions_apply", "call_actions_consumer_register", "call_actions_drain", "call_provider",
           "call_provider_register"]
