"""The email channel, inbound: store a received email raw, then (in the worker) turn it into a
message of the right conversation.

Intake (`email_inbound_store`, called by the desk's SMTP server and the providers' inbound
webhooks) keeps the message once per Message-ID, with an outbox entry in the same statement;
the worker's drain (`inbound_emails_apply`) takes them in batches (one transaction each, with
the outbox entries it deletes: a worker that dies mid-batch leaves it all for the next drain),
parses each one before taking any lock, then reads and writes for the whole batch at once
(the contacts, the thread references, the open cases, the messages), and:

- leaves out what is no conversation's business: auto-replies and out-of-office answers
  (Auto-Submitted, Precedence, X-Autoreply, a null return path), and bounces, whose
  delivery-status report marks the desk's message they name as failed, with the reason;
- finds or creates the contact from the From address (the batch's contacts locked together,
  in the one order of `timeline.locks`);
- places it in its thread: the first Message-ID of In-Reply-To, then of References (newest
  first), that the desk knows (`EmailThreadRef`: everything it sent or received, the batch's
  earlier emails included), else the reply token in the address it was sent to
  (`reply+<token>@...`, which the desk's replies carry in Reply-To). A thread found for
  another person (a reply to a bulk email, a forwarded thread) is not theirs: their message
  opens their own conversation. A new
  subject joins the contact's open email conversation or opens one linked to it, as the
  queue chooses (`Queue.new_email_while_open`);
- shows the text with the quoted history and the signature trimmed (mail-parser-reply), the
  HTML sanitised (nh3), and the whole original kept here (the MIME reading is
  `integrations.email_content`).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parseaddr
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from conversations.channels import delivery_state_set
from conversations.models import Channel, Conversation, DeliveryState
from conversations.services.inbound import InboundCases, InboundItem, inbound_messages_receive
from integrations.email_content import (
    MAX_ATTACHMENTS,
    attachment_parts,
    bodies,
    body_parts,
    email_message_parse,
    header_text,
    text_trimmed,
)
from integrations.email_threads import ThreadRef, conversation_id_from_address, message_id_key, thread_refs_record
from integrations.models import EmailThreadRef, InboundEmail, InboundEmailStatus
from supportdesk import outbox
from supportdesk.db import rows_update
from timeline import events
from timeline.locks import rows_lock
from timeline.models import Contact, ContactKind
from timeline.services.mirror import MirroredContact, MirroredEvent, mirror_batch

log = logging.getLogger(__name__)

STREAM = "integrations.inbound_email"
CONSUMER = "integrations.inbound_email"
MAX_REFERENCES = 30  # Message-IDs looked up per email, newest first
MESSAGE_ID_PATTERN = re.compile(r"<[^<>\s]{1,990}>")
_AUTO_PRECEDENCE = {"bulk", "junk", "list", "auto_reply", "auto-reply"}


class EmailTooLarge(Exception):
    pass



@dataclass(frozen=True)
class Stored:
    inbound_id: int
    duplicate: bool


# --- intake -------------------------------------------------------------------------------------


def email_inbound_store(raw: bytes, *, source: str, envelope_from: str = "",
                        envelope_to: list[str] | None = None, provider_id: str = "") -> Stored:
    """Keep one received email (once per Message-ID; without one, once per the provider's id of
    it, else per content) for the worker to process."""
    if len(raw) > settings.EMAIL_INBOUND_MAX_BYTES:
        raise EmailTooLarge(_("The email is %(size)s bytes; the limit is %(limit)s.")
                            % {"size": len(raw), "limit": settings.EMAIL_INBOUND_MAX_BYTES})
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(_header_block(raw))
    message_id = header_text(headers, "Message-ID")
    found = MESSAGE_ID_PATTERN.search(message_id)
    message_id = found.group(0) if found else ""
    if message_id:
        key = message_id_key(message_id)
    elif provider_id:
        key = hashlib.sha256(f"{source}:{provider_id}".encode()).hexdigest()
    else:
        key = hashlib.sha256(raw).hexdigest()
    row = InboundEmail(key=key, message_id=message_id, source=source[:32],
                       envelope_from=envelope_from.replace("\x00", "")[:998],
                       envelope_to="\n".join(envelope_to or []).replace("\x00", "")[:10_000],
                       subject=header_text(headers, "Subject")[:998], raw=raw, size=len(raw))
    inbound_id, duplicate = outbox.outbox_create_once(row, stream=STREAM)
    return Stored(inbound_id=inbound_id, duplicate=duplicate)


def _header_block(raw: bytes) -> bytes:
    """The header section, up to the first empty line: all the intake reads, so the body (50 KB
    of HTML, a 20 MB attachment) is not split into lines by the header parser for nothing."""
    ends = [(found, len(separator)) for separator in (b"\r\n\r\n", b"\n\n")
            if (found := raw.find(separator)) >= 0]
    if not ends:
        return raw
    end, length = min(ends)
    return raw[:end + length]



# --- processing (the outbox consumer) -----------------------------------------------------------


def _kick() -> None:
    from integrations import tasks  # tasks import this module

    tasks.email_inbound_enqueue()


def inbound_email_register() -> None:
    outbox.consumer_register(name=CONSUMER, stream=STREAM, handle=inbound_emails_apply, kick=_kick)


# Emails a drain's transaction: parsed first, without locks; then their contacts locked at
# once in the one order (`timeline.locks`: ascending ids, new contacts after), so two drains in
# parallel wait on each other's contacts for the writes only, and never deadlock.
BATCH_SIZE = 20


def inbound_emails_drain(*, batches: int = 200, batch_size: int = BATCH_SIZE) -> int:
    return outbox.outbox_drain_batches(consumer=CONSUMER, batches=batches, batch_size=batch_size)


@dataclass
class _Email:
    """One stored email as its processing goes: parsed, then placed."""

    row: InboundEmail
    parsed: EmailMessage
    headers: dict[str, str]  # the first value of each header, raw, by lower-case name
    outcome: tuple[str, str] | None = None  # (status, what was done) once decided
    address: str = ""
    name: str = ""
    subject: str = ""
    text: str = ""
    html: str = ""
    attachments: list[dict[str, Any]] = field(default_factory=list)
    referenced: list[str] = field(default_factory=list)  # Message-IDs to thread on, in order
    token_ids: list[int] = field(default_factory=list)  # conversations its reply addresses name
    contact: Contact | None = None
    conversation: Conversation | None = None


def inbound_emails_apply(inbound_ids: list[int]) -> None:
    """Process a batch of stored emails, in their order, in the drain's transaction."""
    rows = list(InboundEmail.objects.filter(pk__in=inbound_ids, status=InboundEmailStatus.PENDING).order_by("pk"))
    emails = [email_parse(row) for row in rows]
    placed = [email for email in emails if email.outcome is None]
    _loops_ignore(placed)
    placed = [email for email in placed if email.outcome is None]
    if placed:
        _contacts_for(placed)
        with events.buffered():  # the conversations' timeline events in one insert
            _threads_place(placed)
            messages = inbound_messages_receive(items=[InboundItem(
                conversation=email.conversation, body=email.text,
                provider_id=email.row.message_id or email.row.key, metadata=_metadata(email)) for email in placed])
        thread_refs_record([ThreadRef(message_id=email.row.message_id, contact_id=email.contact.pk,
                                      conversation_id=email.conversation.pk, outbound=False) for email in placed])
        for email, message in zip(placed, messages, strict=True):
            email.row.conversation, email.row.html = email.conversation, email.html
            email.outcome = InboundEmailStatus.PROCESSED, _(
                "Message %(sequence)s of conversation %(conversation)s.") % {
                "sequence": message.sequence, "conversation": email.conversation.pk}
    now = timezone.now()
    for email in emails:
        email.row.status = email.outcome[0]
        email.row.outcome = email.outcome[1][:2000]
        email.row.processed_at = now
    rows_update([email.row for email in emails], ["status", "outcome", "html", "conversation", "processed_at"])


def _ignore(reason: str) -> tuple[str, str]:
    return InboundEmailStatus.IGNORED, reason


def email_parse(row: InboundEmail) -> _Email:
    """Everything processing needs from the email, read before any lock is taken: what leaves
    it out (a bounce, whose report is applied here; an automatic message; no sender to answer),
    else its sender, subject, bodies (the text trimmed, the HTML sanitised), attachments and the
    threads it names."""
    parsed = email_message_parse(bytes(row.raw))
    headers: dict[str, str] = {}
    for name, value in parsed.raw_items():
        headers.setdefault(name.lower(), value)
    email = _Email(row=row, parsed=parsed, headers=headers)
    if (bounce := _bounce(parsed)) is not None:
        email.outcome = _ignore(bounce)
        return email
    if (auto := _automatic(email, envelope_from=row.envelope_from)) is not None:
        email.outcome = _ignore(auto)
        return email
    email.name, email.address = _sender(_raw_header(headers, "from"))
    try:
        validate_email(email.address)
    except ValidationError:
        email.outcome = _ignore(_("No sender address it could be answered at (From: %(value)r).")
                                % {"value": _header(headers, "from")[:200]})
        return email
    address = email.address.lower()
    if address.endswith("@" + settings.EMAIL_INBOUND_DOMAIN.lower()) \
            or address == parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower():
        email.outcome = _ignore(_("Sent from the desk's own address: not answered (a mail loop)."))
        return email
    email.subject = _header(headers, "subject")
    email.referenced = _referenced_ids(headers)
    email.token_ids = [conversation_id for address in _recipients(headers, row)
                       if (conversation_id := conversation_id_from_address(address)) is not None]
    plain, rich = body_parts(parsed)
    email.text, email.html = bodies(plain, rich)
    email.attachments = [{"name": name, "type": content_type, "size": size}
                         for name, content_type, size, _part in attachment_parts(parsed, shown=(plain, rich))]
    email.text = text_trimmed(email.text)
    return email


def _raw_header(headers: dict[str, str], name: str) -> str:
    """A header's raw value (8-bit bytes read as UTF-8, else replaced), NULs dropped."""
    value = headers.get(name)
    if value is None:
        return ""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # 8-bit bytes the parser kept as surrogates
        value = value.encode("ascii", "surrogateescape").decode("utf-8", "replace")
    return value.replace("\x00", "")


def _header(headers: dict[str, str], name: str) -> str:
    """A header as text: its RFC 2047 words decoded, on one line (a broken one read as well as
    it can be). The raw value, not the parsing policy's: only what is read is decoded, and a
    100 KB References is not parsed as structured text."""
    return header_text({name: _raw_header(headers, name)}, name)


def _sender(value: str) -> tuple[str, str]:
    """(name, address) of a From header's raw value: the address parsed before the name's
    RFC 2047 words are decoded, so a decoded comma or bracket cannot move it."""
    name, address = parseaddr(" ".join(value.split()))
    if "=?" in name:
        name = header_text({"name": name}, "name")
    return name, address.strip()


def _metadata(email: _Email) -> dict[str, Any]:
    row = email.row
    return {"email": {"message_id": row.message_id, "subject": email.subject[:255], "from": email.address,
                      "inbound_email_id": row.pk, "has_html": bool(email.html),
                      "references": MESSAGE_ID_PATTERN.findall(_header(email.headers, "references"))
                      [-(MAX_REFERENCES - 1):]},
            "attachments": email.attachments[:MAX_ATTACHMENTS]}


def _loops_ignore(emails: list[_Email]) -> None:
    """Leave out the desk's own emails come back (a Message-ID it sent): a mail loop."""
    keys = {message_id_key(email.row.message_id): email for email in emails if email.row.message_id}
    sent = set(EmailThreadRef.objects.filter(key__in=list(keys), outbound=True).values_list("key", flat=True))
    for key in sent:
        keys[key].outcome = _ignore(_("An email the desk sent itself came back: not answered (a mail loop)."))


def _automatic(email: _Email, *, envelope_from: str) -> str | None:
    headers = email.headers
    auto_submitted = _header(headers, "auto-submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return _("An automatic reply (Auto-Submitted: %(value)s).") % {"value": auto_submitted[:60]}
    precedence = _header(headers, "precedence")
    if precedence.lower() in _AUTO_PRECEDENCE:
        return _("Bulk or automatic mail (Precedence: %(value)s).") % {"value": precedence[:60]}
    for header in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if header.lower() in headers:
            return _("An automatic reply (%(header)s).") % {"header": header}
    return_path = _header(headers, "return-path")
    if return_path.replace(" ", "") == "<>" or envelope_from.strip() == "<>":
        return _("Sent with a null return path (an automatic message).")
    return None


def _bounce(parsed: EmailMessage) -> str | None:
    """A delivery-status report (RFC 3464): mark the desk's message it is about as failed."""
    if parsed.get_content_type() != "multipart/report" or \
            (parsed.get_param("report-type") or "").lower() != "delivery-status":
        return None
    original_id, diagnostic, status = "", "", ""
    for part in parsed.walk():
        content_type = part.get_content_type()
        if content_type == "message/delivery-status":
            text = _part_bytes(part).decode("utf-8", "replace")
            for line in text.splitlines():
                if line.lower().startswith("diagnostic-code:") and not diagnostic:
                    diagnostic = line.split(":", 1)[1].strip()
                elif line.lower().startswith("status:") and not status:
                    status = line.strip()
        elif content_type in ("message/rfc822", "text/rfc822-headers") and not original_id:
            inner = BytesHeaderParser(policy=policy.compat32).parsebytes(_part_bytes(part))
            found = MESSAGE_ID_PATTERN.search(header_text(inner, "Message-ID"))
            original_id = found.group(0) if found else ""
    if not original_id:
        return _("A delivery failure report about a message the desk cannot tell.")
    detail = (diagnostic or status)[:500] or _("The recipient's mail server refused it.")
    message = delivery_state_set(channel=Channel.EMAIL, reference=original_id, state=DeliveryState.FAILED,
                                 detail=detail)
    if message is None:
        return _("A delivery failure report about %(id)s, which the desk did not send as a reply.") % {
            "id": original_id[:200]}
    return _("A delivery failure report: message %(sequence)s of conversation %(conversation)s marked "
             "failed (%(detail)s).") % {
        "sequence": message.sequence, "conversation": message.conversation_id, "detail": detail}


def _part_bytes(part: EmailMessage) -> bytes:
    """A part's content as bytes, whether the parser gives a payload, sub-messages or text."""
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload
    inner = part.get_payload()
    if isinstance(inner, list):  # message/rfc822 and message/delivery-status hold messages
        return b"\n".join(item.as_bytes(policy=policy.compat32) for item in inner if hasattr(item, "as_bytes"))
    return str(inner or "").encode("utf-8", "replace")


def _contacts_for(emails: list[_Email]) -> None:
    """Each email's contact: the one with its sender's address (a customer first, then the
    oldest), or a new customer. All of them locked for the rest of the transaction, in the one
    order (`timeline.locks`): the ones found by ascending id, then the new ones (created in the
    order of their keys, so two drains creating the same one wait, never deadlock)."""
    addresses: dict[str, tuple[str, str]] = {}  # lower-case address -> (as first written, name)
    for email in emails:
        addresses.setdefault(email.address.lower(), (email.address, email.name))
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        # As `email__iexact` finds one (its index's expression and condition), for all at once.
        cursor.execute(
            f"SELECT wanted.address, contact.id, contact.kind "
            f"FROM unnest(%s::text[]) AS wanted(address) JOIN {quote(Contact._meta.db_table)} AS contact "
            "ON UPPER(contact.email) = UPPER(wanted.address) WHERE contact.email <> '' ORDER BY contact.id",
            [[written for written, _name in addresses.values()]])
        found: dict[str, list[tuple[int, str]]] = {}
        for written, pk, kind in cursor.fetchall():
            found.setdefault(written.lower(), []).append((pk, kind))
    chosen = {address: next((pk for pk, kind in candidates if kind == ContactKind.CUSTOMER), candidates[0][0])
              for address, candidates in found.items()}
    locked, _orders = rows_lock(contact_ids=chosen.values())
    contacts = {address: locked[pk] for address, pk in chosen.items()}
    missing = sorted(addresses.keys() - contacts.keys())
    if missing:
        now = timezone.now()
        changes = {}
        for address in missing:
            written, name = addresses[address]
            fields: dict[str, Any] = {"email": written}
            if name.strip():
                fields["name"] = name.strip()[:200]
            changes[address] = MirroredContact(kind=ContactKind.CUSTOMER, external_id=f"email:{address}"[:128],
                                               fields=fields)
        created = mirror_batch(batch=[MirroredEvent(source_event_id=None, occurred_at=now, order=None,
                                                    contacts=[change]) for change in changes.values()],
                               actor="email")
        for address, change in changes.items():
            contacts[address] = created.contacts[(change.kind, change.external_id)]
    for email in emails:
        email.contact = contacts[email.address.lower()]


def _referenced_ids(headers: dict[str, str]) -> list[str]:
    """In-Reply-To first, then References newest first: the thread's Message-IDs to look up."""
    ids = MESSAGE_ID_PATTERN.findall(_header(headers, "in-reply-to"))
    ids += list(reversed(MESSAGE_ID_PATTERN.findall(_header(headers, "references"))))
    seen: dict[str, None] = {}
    for message_id in ids:
        seen.setdefault(message_id, None)
    return list(seen)[:MAX_REFERENCES]


def _recipients(headers: dict[str, str], row: InboundEmail) -> list[str]:
    # The raw values: a display name's RFC 2047 words stay whole, so a comma they hide splits nothing.
    values = [" ".join(_raw_header(headers, name).split())
              for name in ("to", "cc", "delivered-to", "x-original-to")]
    addresses = [address for _name, address in getaddresses(values) if address]
    return [*row.envelope_to.splitlines(), *addresses]


@dataclass
class _Ref:
    contact_id: int
    conversation_id: int | None


def _threads_place(emails: list[_Email]) -> None:
    """Each email's conversation, decided in the batch's order as one email at a time would
    be: the first Message-ID it names that the desk knows (the batch's earlier emails
    included), else the reply token of an address it was sent to, else a new case for its
    contact (`InboundCases`). What that reads is read once for the batch, after the contacts
    were locked, so whatever another drain did for them is committed and seen."""
    keys = {message_id_key(message_id) for email in emails for message_id in email.referenced}
    refs = {ref.key: _Ref(contact_id=ref.contact_id, conversation_id=ref.conversation_id)
            for ref in EmailThreadRef.objects.filter(key__in=list(keys))} if keys else {}
    wanted = {ref.conversation_id for ref in refs.values() if ref.conversation_id is not None}
    wanted |= {conversation_id for email in emails for conversation_id in email.token_ids}
    conversations = Conversation.objects.in_bulk(list(wanted)) if wanted else {}
    cases: InboundCases | None = None

    def case(email: _Email, *, join_open: bool = True) -> Conversation:
        nonlocal cases
        if cases is None:
            cases = InboundCases(contact_ids=[email.contact.pk for email in emails], channel=Channel.EMAIL)
        conversation = cases.place(contact=email.contact, subject=email.subject, join_open=join_open)
        conversations[conversation.pk] = conversation
        return conversation

    for email in emails:
        email.conversation = _thread(email, refs=refs, conversations=conversations, case=case)
        if email.row.message_id:  # the batch's later emails may answer this one
            refs.setdefault(message_id_key(email.row.message_id),
                            _Ref(contact_id=email.contact.pk, conversation_id=email.conversation.pk))


def _thread(email: _Email, *, refs: dict[str, _Ref], conversations: dict[int, Conversation],
            case: Any) -> Conversation:
    contact = email.contact
    for message_id in email.referenced:
        key = message_id_key(message_id)
        ref = refs.get(key)
        if ref is None:
            continue
        if ref.contact_id != contact.pk:
            break  # someone else's thread (a bulk email, a forward): theirs stays theirs
        if ref.conversation_id is not None and (conversation := conversations.get(ref.conversation_id)):
            return conversation
        # An answer to an email a workflow sent: its own conversation, which the rest of the
        # thread joins.
        conversation = case(email, join_open=False)
        EmailThreadRef.objects.filter(key=key, conversation__isnull=True).update(conversation=conversation)
        ref.conversation_id = conversation.pk
        return conversation
    for conversation_id in email.token_ids:
        conversation = conversations.get(conversation_id)
        if conversation is not None and conversation.channel == Channel.EMAIL and \
                conversation.contact_id == contact.pk:
            return conversation
    return case(email)
