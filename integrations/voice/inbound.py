"""Voice inbound: the provider's webhook posts (Twilio's shape: form-encoded, signed with
X-Twilio-Signature), each checked, stored raw once, then applied in the worker (an outbox
consumer) to the call through the desk's reports (conversations.services.calls).

- Signature: Twilio's HMAC-SHA1 of the URL it requested and the sorted parameters, keyed with the
  account's auth token (TWILIO_AUTH_TOKEN), checked with the `twilio` library's RequestValidator;
  unset secret, missing or wrong signature: 401, nothing stored.
- Each post is stored once by the SHA-256 of its path and sorted parameters (a provider's retry
  is the same post), and answered the same TwiML each time.
- Applying: the caller's number becomes E.164 and the contact of that number (the same person
  who writes on WhatsApp); any report of a call the desk has not seen, on the inbound number's
  webhooks, first reports it ringing (`call_incoming`), then its own report. A report of a call
  the desk placed arrives before the desk knows the provider's id of it only while the dial's
  transaction has not committed: it is tried again (the outbox keeps it), otherwise it is
  recorded as unknown.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from twilio.request_validator import RequestValidator

from conversations.models import Call, CallAction, CallActionKind, MessageDirection
from conversations.services import calls as reports
from integrations.models import VoiceDelivery
from integrations.phones import contact_for_phone, e164
from integrations.voice.twiml import CALLBACK_DIGIT, menu_language
from supportdesk import outbox
from timeline.models import Contact, ContactKind
from timeline.services.contacts import contact_upsert

log = logging.getLogger(__name__)

STREAM = "integrations.voice"
CONSUMER = "integrations.voice"

SID = re.compile(r"^[A-Za-z0-9]{2,64}$")
DIGITS = re.compile(r"^[0-9*#]{0,16}$")
CALL_STATUSES = {"queued", "initiated", "ringing", "in-progress", "completed", "busy", "no-answer", "canceled",
                 "failed"}
ENDED = {"completed", "busy", "no-answer", "canceled", "failed"}
QUEUE_RESULTS = {"bridged", "bridging-in-process", "error", "hangup", "leave", "redirected",
                 "redirected-from-bridged", "queue-full", "system-shutdown"}
# Webhooks only the inbound number's calls reach: their first report of a call makes it ring at the desk.
INBOUND_KINDS = {"incoming", "language", "callback", "queue-result"}
KINDS = INBOUND_KINDS | {"wait", "status", "agent-status", "recording"}
PARAM_MAX_CHARS = 2000
# How long a report of an unknown call waits for a dial the desk has not finished placing.
DIAL_PENDING = timedelta(minutes=2)


class SignatureError(Exception):
    pass


class PayloadError(Exception):
    pass


class CallNotPlacedYet(Exception):
    """A report of a call the desk is placing right now: tried again by the next drain."""


@dataclass(frozen=True)
class Stored:
    delivery_id: int
    duplicate: bool


def signature_check(*, url: str, params: Mapping[str, Any], signature: str | None) -> None:
    token = settings.TWILIO_AUTH_TOKEN
    if not token:
        raise SignatureError(_("Voice is not configured here (TWILIO_AUTH_TOKEN is unset)."))
    if not signature:
        raise SignatureError(_("X-Twilio-Signature is missing."))
    if not RequestValidator(token).validate(url, params, signature):
        raise SignatureError(_("X-Twilio-Signature does not match the address and the parameters."))


def params_check(kind: str, params: Mapping[str, str]) -> None:
    """The parameters the webhook needs, in the provider's shape, else PayloadError (400)."""
    too_long = [name for name, value in params.items() if len(name) > 100 or len(value) > PARAM_MAX_CHARS]
    if too_long:
        raise PayloadError(_("Parameter %(name)s is too long.") % {"name": too_long[0][:100]})
    if not SID.match(params.get("CallSid", "")):
        raise PayloadError(_("CallSid is missing or not a provider's id (letters and digits)."))
    if not DIGITS.match(params.get("Digits", "")):
        raise PayloadError(_("Digits may hold only the keys of a phone: 0-9, * and #."))
    if kind == "queue-result" and params.get("QueueResult") not in QUEUE_RESULTS:
        raise PayloadError(_("QueueResult is missing or not one the provider sends."))
    if kind in ("status", "agent-status") and params.get("CallStatus") not in CALL_STATUSES:
        raise PayloadError(_("CallStatus is missing or not one the provider sends."))
    if kind == "agent-status" and not SID.match(params.get("ParentCallSid", "")):
        raise PayloadError(_("ParentCallSid is missing: the agent's leg names the caller's call."))
    if kind == "recording" and (not params.get("RecordingSid") or
                                not params.get("RecordingUrl", "").startswith(("https://", "http://"))):
        raise PayloadError(_("A recording report needs RecordingSid and RecordingUrl (a web address)."))
    for name in ("CallDuration", "RecordingDuration", "QueueTime"):
        if params.get(name, "").strip() and not params[name].strip().isdigit():
            raise PayloadError(_("%(name)s must be a whole number of seconds.") % {"name": name})


def webhook_params(*, kind: str, params: Mapping[str, Any]) -> dict[str, str]:
    """A signed post's parameters, one value each, checked for the webhook (PayloadError: 400)."""
    single = {str(name): str(params[name]) for name in params}
    params_check(kind, single)
    return single


def webhook_receive(*, kind: str, path: str, params: dict[str, str]) -> Stored:
    """Store a checked post once (by its path and sorted parameters) for the worker."""
    canonical = path + "\n" + "\n".join(f"{name}={params[name]}" for name in sorted(params))
    row = VoiceDelivery(key=hashlib.sha256(canonical.encode()).hexdigest(), kind=kind,
                        call_sid=params.get("CallSid", "")[:64], body=json.dumps({"path": path, "params": params}))
    delivery_id, duplicate = outbox.outbox_create_once(row, stream=STREAM)
    return Stored(delivery_id=delivery_id, duplicate=duplicate)


# --- processing ---------------------------------------------------------------------------------


def _kick() -> None:
    from integrations import tasks  # tasks import this module

    tasks.voice_enqueue()


def voice_register() -> None:
    outbox.consumer_register(name=CONSUMER, stream=STREAM, handle=deliveries_apply, kick=_kick)


def voice_drain(*, batches: int = 20, batch_size: int = 50) -> int:
    return outbox.outbox_drain_batches(consumer=CONSUMER, batches=batches, batch_size=batch_size)


def deliveries_apply(delivery_ids: list[int]) -> None:
    for row in VoiceDelivery.objects.filter(pk__in=delivery_ids, processed_at__isnull=True).order_by("pk"):
        params = json.loads(row.body).get("params") or {}
        row.outcome = report_apply(row.kind, params, at=row.received_at)[:2000] or _("Nothing to apply.")
        row.processed_at = timezone.now()
        row.save(update_fields=["outcome", "processed_at"])


def _seconds(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None


def _caller(params: dict[str, str]) -> tuple[Contact, str]:
    """The calling contact and their number as the desk keeps it (an unknown or withheld one: a
    contact of this call alone)."""
    sid, number = params["CallSid"], e164(params.get("From", "").strip())
    if number is not None:
        return contact_for_phone(number, source="voice"), number
    contact = contact_upsert(kind=ContactKind.CUSTOMER, external_id=f"voice:anonymous:{sid}",
                             fields={"name": _("Anonymous caller")}, occurred_at=timezone.now(), actor="voice")
    return contact, params.get("From", "")[:32]


def _placing() -> bool:
    """Whether the desk is placing a call now (its dial sent, its transaction not committed)."""
    return CallAction.objects.filter(kind=CallActionKind.DIAL, done_at__isnull=True,
                                     created_at__gte=timezone.now() - DIAL_PENDING).exists()


def _known(sid: str) -> bool:
    if Call.objects.filter(provider_call_id=sid).exists():
        return True
    if _placing():
        raise CallNotPlacedYet(_("Call %(sid)s is not known yet; the desk is placing a call.") % {"sid": sid})
    return False


def _talk_seconds(sid: str, call_duration: int | None) -> int | None:
    """Twilio's CallDuration of an inbound call counts from the first ring (the menu and the wait
    too); the desk keeps the talk, from the agent's answer."""
    call = Call.objects.filter(provider_call_id=sid).values("direction", "created_at", "answered_at").first()
    if call_duration is None or call is None or call["direction"] != MessageDirection.INBOUND \
            or call["answered_at"] is None:
        return call_duration
    before = int((call["answered_at"] - call["created_at"]).total_seconds())
    return max(call_duration - max(before, 0), 0)


def report_apply(kind: str, params: dict[str, str], *, at: datetime | None = None) -> str:
    """Apply one stored report to its call (`at`: when the provider posted it, so waits and
    lengths are the caller's, however late the worker applies it); what was done, in words."""
    sid = params.get("CallSid", "")
    inbound = kind in INBOUND_KINDS or kind == "status" and params.get("Direction", "inbound") == "inbound"
    if inbound:
        contact, number = _caller(params)
        call = reports.call_incoming(contact=contact, provider_call_id=sid, contact_number=number,
                                     desk_number=params.get("To", "")[:32], at=at)
        if kind == "incoming":
            return _("%(sid)s: ringing, call %(call)s of conversation %(conversation)s") % {
                "sid": sid, "call": call.pk, "conversation": call.conversation_id}
    if kind == "language":
        language = menu_language(params.get("Digits", ""))
        reports.call_language_chosen(provider_call_id=sid, language=language, key="language", at=at)
        return _("%(sid)s: language %(language)s") % {"sid": sid, "language": language or _("(the default)")}
    if kind == "callback":
        if params.get("Digits") != CALLBACK_DIGIT:
            return _("%(sid)s: another key, still waiting") % {"sid": sid}
        reports.call_callback_requested(provider_call_id=sid, key="callback", at=at)
        return _("%(sid)s: callback requested") % {"sid": sid}
    if kind == "queue-result":
        result = params.get("QueueResult", "")
        if result == "hangup":  # the caller hung up while waiting (the status report may not come)
            reports.call_ended(provider_status="canceled", provider_call_id=sid, key="ended", at=at)
        return _("%(sid)s: left the queue (%(result)s)") % {"sid": sid, "result": result}
    if kind == "recording":
        if params.get("RecordingStatus", "completed") != "completed":
            return _("%(sid)s: recording %(status)s") % {"sid": sid, "status": params["RecordingStatus"]}
        if not _known(sid):
            return _("%(sid)s: a recording of a call the desk does not know") % {"sid": sid}
        reports.call_recording(provider_call_id=sid, url=params["RecordingUrl"],
                               key=f"recording:{params['RecordingSid']}",
                               duration_seconds=_seconds(params.get("RecordingDuration")), at=at)
        return _("%(sid)s: recording %(recording)s") % {"sid": sid, "recording": params["RecordingSid"]}
    status = params.get("CallStatus", "")
    if kind == "agent-status":
        parent = params["ParentCallSid"]
        if status != "in-progress":
            return _("%(sid)s: the agent's leg is %(status)s") % {"sid": sid, "status": status}
        if not _known(parent):
            return _("%(sid)s: the agent's leg of a call the desk does not know") % {"sid": sid}
        reports.call_answered(provider_call_id=parent, key=f"answered:{sid}", at=at)
        return _("%(sid)s: the agent answered %(parent)s") % {"sid": sid, "parent": parent}
    # kind == "status": the call's own status report (inbound, or a call the desk placed)
    if not inbound and not _known(sid):
        return _("%(sid)s %(status)s: a call the desk does not know") % {"sid": sid, "status": status}
    if status == "in-progress" and not inbound:  # the contact picked up the desk's call
        reports.call_answered(provider_call_id=sid, key="answered", at=at)
        return _("%(sid)s: answered") % {"sid": sid}
    if status in ENDED:
        duration = _talk_seconds(sid, _seconds(params.get("CallDuration")))
        reports.call_ended(provider_call_id=sid, provider_status=status, key="ended", duration_seconds=duration,
                           at=at)
        return _("%(sid)s: ended (%(status)s)") % {"sid": sid, "status": status}
    return _("%(sid)s: %(status)s") % {"sid": sid, "status": status}
