"""Voice outbound: what the desk asks of a call (conversations.calls' actions), sent as Twilio's
REST API takes it, over plain `requests` (a few form posts; the `twilio` client has no clean way
to point at the simulator, and its retries and idempotency are the desk's own here).

- A live call is redirected with new TwiML: `POST {TWILIO_API_URL}/2010-04-01/Accounts/{sid}/
  Calls/{CallSid}.json` with `Twiml=`: connect (dial the agent's browser phone, Twilio Client
  `agent-<user id>`), hold (a word and hold music), resume (the agent again), requeue (back to
  the caller's queue); hangup is `Status=completed`.
- A call is placed with `POST .../Calls.json` (To, From=TWILIO_NUMBER, the agent's TwiML, status
  reports to the desk); the new CallSid comes back as the call's provider id.
- Each request carries the action's key as `I-Twilio-Idempotency-Token`, so a drain that died
  after the provider acted and sends it again changes nothing more.
- Unreachable, 429 or 5xx: TransportRetry (the action is sent again); another 4xx:
  TransportRefused with the provider's code and message (the call fails), except a hangup of a
  call that is over already, which is done.
"""

from __future__ import annotations

from typing import Any

import requests
from django.conf import settings
from django.utils.translation import gettext as _

from conversations.calls import Performed, TransportRefused, TransportRetry
from conversations.models import Call, CallAction, CallActionKind
from integrations.voice import twiml

# Twilio's error for a call that is not in progress any more (it cannot be redirected).
NOT_IN_PROGRESS = 21220


def _calls_url(call_sid: str = "") -> str:
    base = f"{settings.TWILIO_API_URL.rstrip('/')}/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}/Calls"
    return f"{base}/{call_sid}.json" if call_sid else f"{base}.json"


def _post(url: str, data: dict[str, Any], key: str) -> tuple[int, dict[str, Any]]:
    try:
        response = requests.post(url, data=data, timeout=settings.TWILIO_TIMEOUT_SECONDS,
                                 auth=(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN),
                                 headers={"I-Twilio-Idempotency-Token": key})
    except requests.RequestException as error:
        raise TransportRetry(_("The voice provider did not answer: %(error)s") % {"error": error}) from error
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    answer = answer if isinstance(answer, dict) else {}
    if response.status_code == 429 or response.status_code >= 500:
        raise TransportRetry(_("The voice provider answered %(status)s; trying again.") % {
            "status": response.status_code})
    return response.status_code, answer


def _refused(status: int, answer: dict[str, Any]) -> TransportRefused:
    return TransportRefused(_("The voice provider refused it (%(status)s, code %(code)s): %(message)s") % {
        "status": status, "code": answer.get("code", "-"),
        "message": answer.get("message") or _("no reason given")})


def _language(call: Call) -> str:
    return call.conversation.language or settings.CHAT_DEFAULT_LANGUAGE


def _twiml(action: CallAction, call: Call) -> dict[str, str]:
    """The form of a redirect of the live call for this action."""
    if action.kind == CallActionKind.HANGUP:
        return {"Status": "completed"}
    if action.kind in (CallActionKind.CONNECT, CallActionKind.RESUME):
        agent_id = action.agent_id if action.kind == CallActionKind.CONNECT else (call.agent_id or action.agent_id)
        if agent_id is None:
            raise TransportRefused(_("There is no agent to connect the call to."))
        return {"Twiml": twiml.connect(agent_id)}
    if action.kind == CallActionKind.HOLD:
        return {"Twiml": twiml.hold(_language(call))}
    if action.kind == CallActionKind.REQUEUE:
        return {"Twiml": twiml.requeue(call.provider_call_id, _language(call))}
    raise TransportRefused(_("The voice provider has no action %(kind)s.") % {"kind": action.kind})


def _dial(action: CallAction, call: Call) -> Performed:
    if action.agent_id is None:
        raise TransportRefused(_("There is no agent to connect the call to."))
    if not call.contact_number:
        raise TransportRefused(_("The contact has no phone number to call."))
    status, answer = _post(_calls_url(), {
        "To": call.contact_number, "From": settings.TWILIO_NUMBER, "Twiml": twiml.connect(action.agent_id),
        "StatusCallback": twiml.absolute("voice-status"), "StatusCallbackMethod": "POST",
        "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"]}, action.key)
    if status >= 400:
        raise _refused(status, answer)
    sid = str(answer.get("sid") or "")
    if not sid:
        raise TransportRefused(_("The voice provider placed the call without naming it (no sid)."))
    outcome = _("Placed as %(sid)s (%(status)s).") % {"sid": sid, "status": answer.get("status", "")}
    return Performed(outcome=outcome, provider_call_id=sid)


def voice_perform(action: CallAction, call: Call) -> Performed:
    """conversations.calls' provider: do `action` to `call` at Twilio (or the simulator)."""
    if action.kind == CallActionKind.DIAL:
        return _dial(action, call)
    if not call.provider_call_id:
        raise TransportRefused(_("The call has no provider id to act on."))
    form = _twiml(action, call)
    status, answer = _post(_calls_url(call.provider_call_id), form, action.key)
    if status >= 400:
        if action.kind == CallActionKind.HANGUP and answer.get("code") in (NOT_IN_PROGRESS, 20404):
            return Performed(outcome=_("The call was over already."))
        raise _refused(status, answer)
    return Performed(outcome=_("%(kind)s: the call is %(status)s.") % {
        "kind": action.kind, "status": answer.get("status", "")})
