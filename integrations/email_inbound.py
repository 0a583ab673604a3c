"""The email channel, inbound: store a received email raw, then (in the worker) turn it into a
message of the right conversation.

Intake (`email_inbound_store`, called by the desk's SMTP server and the providers' inbound
webhooks) keeps the message once per Message-ID, with an outbox entry in the same statement;
the worker's drain (`inbound_emails_apply`) parses it and:

- leaves out what is no conversation's business: auto-replies and out-of-office answers
  (Auto-Submitted, Precedence, X-Autoreply, a null return path), and bounces, whose
  delivery-status report marks the desk's message they name as failed, with the reason;
- finds or creates the contact from the From address;
- places it in its thread: the first Message-ID of In-Reply-To, then of References (newest
  first), that the desk knows (`EmailThreadRef`: everything it sent or received), else the
  reply token in the address it was sent to (`reply+<token>@...`, which the desk's replies
  carry in Reply-To). A thread found for another person (a reply to a bulk email, a
  forwarded thread) is not theirs: their message opens their own conversation. A new
  subject joins the contact's open email conversation or opens one linked to it, as the
  queue chooses (`Queue.new_email_while_open`);
- shows the text with the quoted history and the signature trimmed (mail-parser-reply), the
  HTML sanitised (nh3), and the whole original kept here.
"""

from __future__ import annotations

import functools
import hashlib
import html as html_lib
import logging
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from email.utils import getaddresses, parseaddr
from typing import Any

import nh3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _
from mailparser_reply import EmailReplyParser
from mailparser_reply.constants import MAIL_LANGUAGES

from conversations.channels import Attachment, delivery_state_set
from conversations.models import Channel, Conversation, DeliveryState
from conversations.services.inbound import inbound_conversation, inbound_message_receive
from integrations.email_threads import conversation_id_from_address, message_id_key, thread_ref_record
from integrations.models import EmailThreadRef, InboundEmail, InboundEmailStatus
from supportdesk import outbox
from timeline.models import Contact, ContactKind
from timeline.services.contacts import contact_upsert

log = logging.getLogger(__name__)

STREAM = "integrations.inbound_email"
CONSUMER = "integrations.inbound_email"
EXCERPT_CHARS = 200_000  # of a text part, before trimming (a pasted log file is not read whole)
MAX_REFERENCES = 30  # Message-IDs looked up per email, newest first
MAX_ATTACHMENTS = 100  # listed on the message (all are kept in the raw email)
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
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
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


def header_text(message: Any, name: str) -> str:
    """A header as text, whatever its encoding (a broken one is read as well as it can be)."""
    try:
        value = message.get(name)
    except Exception:  # a header the parser cannot make sense of
        return ""
    if value is None:
        return ""
    try:
        text = str(value)
    except Exception:
        return ""
    if "=?" in text:  # RFC 2047 words under the compat32 policy
        try:
            from email.header import decode_header, make_header

            text = str(make_header(decode_header(text)))
        except Exception:
            pass
    return " ".join(text.replace("\x00", "").split())


# --- processing (the outbox consumer) -----------------------------------------------------------


def _kick() -> None:
    from integrations import tasks  # tasks import this module

    tasks.email_inbound_enqueue()


def inbound_email_register() -> None:
    outbox.consumer_register(name=CONSUMER, stream=STREAM, handle=inbound_emails_apply, kick=_kick)


def inbound_emails_drain(*, batches: int = 200, batch_size: int = 1) -> int:
    # One email a transaction: its contact stays locked only while it is placed (parallel
    # drains wait on each other's contacts; a batch of several locked them in any order).
    return outbox.outbox_drain_batches(consumer=CONSUMER, batches=batches, batch_size=batch_size)


def inbound_emails_apply(inbound_ids: list[int]) -> None:
    for row in InboundEmail.objects.filter(pk__in=inbound_ids, status=InboundEmailStatus.PENDING).order_by("pk"):
        inbound_email_process(row)


def inbound_email_process(row: InboundEmail) -> None:
    parsed = BytesParser(policy=policy.default).parsebytes(bytes(row.raw))
    outcome = _process(row, parsed)
    row.status = outcome[0]
    row.outcome = outcome[1][:2000]
    row.processed_at = timezone.now()
    row.save(update_fields=["status", "outcome", "html", "conversation", "processed_at"])


def _ignore(reason: str) -> tuple[str, str]:
    return InboundEmailStatus.IGNORED, reason


def _process(row: InboundEmail, parsed: EmailMessage) -> tuple[str, str]:
    if (bounce := _bounce(parsed)) is not None:
        return _ignore(bounce)
    if (auto := _automatic(parsed, envelope_from=row.envelope_from)) is not None:
        return _ignore(auto)
    name, address = parseaddr(header_text(parsed, "From"))
    address = address.strip()
    try:
        validate_email(address)
    except ValidationError:
        return _ignore(_("No sender address it could be answered at (From: %(value)r).")
                       % {"value": header_text(parsed, "From")[:200]})
    if address.lower().endswith("@" + settings.EMAIL_INBOUND_DOMAIN.lower()) \
            or address.lower() == parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower():
        return _ignore(_("Sent from the desk's own address: not answered (a mail loop)."))
    sent_by_desk = EmailThreadRef.objects.filter(key=message_id_key(row.message_id), outbound=True)
    if row.message_id and sent_by_desk.exists():
        return _ignore(_("An email the desk sent itself came back: not answered (a mail loop)."))
    contact = _contact_for(address=address, name=name)
    subject = header_text(parsed, "Subject")
    conversation = _thread(parsed, row=row, contact=contact, subject=subject)
    text, html = _bodies(parsed)
    row.html = html
    attachments = [{"name": name, "type": content_type, "size": size}
                   for name, content_type, size, _part in _attachment_parts(parsed)]
    message = inbound_message_receive(
        conversation=conversation, body=_trimmed(text), provider_id=row.message_id or row.key,
        metadata={"email": {"message_id": row.message_id, "subject": subject[:255], "from": address,
                            "inbound_email_id": row.pk, "has_html": bool(html),
                            "references": MESSAGE_ID_PATTERN.findall(header_text(parsed, "References"))
                            [-(MAX_REFERENCES - 1):]},
                  "attachments": attachments[:MAX_ATTACHMENTS]})
    row.conversation = conversation
    if row.message_id:
        thread_ref_record(message_id=row.message_id, contact_id=contact.pk, conversation_id=conversation.pk,
                          outbound=False)
    return InboundEmailStatus.PROCESSED, _("Message %(sequence)s of conversation %(conversation)s.") % {
        "sequence": message.sequence, "conversation": conversation.pk}


def _automatic(parsed: EmailMessage, *, envelope_from: str) -> str | None:
    auto_submitted = header_text(parsed, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return _("An automatic reply (Auto-Submitted: %(value)s).") % {"value": auto_submitted[:60]}
    precedence = header_text(parsed, "Precedence")
    if precedence.lower() in _AUTO_PRECEDENCE:
        return _("Bulk or automatic mail (Precedence: %(value)s).") % {"value": precedence[:60]}
    for header in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if parsed.get(header) is not None:
            return _("An automatic reply (%(header)s).") % {"header": header}
    return_path = header_text(parsed, "Return-Path")
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


def _contact_for(*, address: str, name: str) -> Contact:
    """The contact with this email (a customer first, then the oldest), or a new customer."""
    contacts = list(Contact.objects.filter(email__iexact=address).exclude(email="")  # its index's condition
                    .order_by("pk").values_list("pk", "kind")[:20])
    if contacts:
        chosen = next((pk for pk, kind in contacts if kind == ContactKind.CUSTOMER), contacts[0][0])
        return Contact.objects.get(pk=chosen)
    fields: dict[str, Any] = {"email": address}
    if name.strip():
        fields["name"] = name.strip()[:200]
    return contact_upsert(kind=ContactKind.CUSTOMER, external_id=f"email:{address.lower()}"[:128], fields=fields,
                          occurred_at=timezone.now(), actor="email")


def _referenced_ids(parsed: EmailMessage) -> list[str]:
    """In-Reply-To first, then References newest first: the thread's Message-IDs to look up."""
    ids = MESSAGE_ID_PATTERN.findall(header_text(parsed, "In-Reply-To"))
    ids += list(reversed(MESSAGE_ID_PATTERN.findall(header_text(parsed, "References"))))
    seen: dict[str, None] = {}
    for message_id in ids:
        seen.setdefault(message_id, None)
    return list(seen)[:MAX_REFERENCES]


def _recipients(parsed: EmailMessage, row: InboundEmail) -> list[str]:
    values = [header_text(parsed, name) for name in ("To", "Cc", "Delivered-To", "X-Original-To")]
    addresses = [address for _name, address in getaddresses(values) if address]
    return [*row.envelope_to.splitlines(), *addresses]


def _thread(parsed: EmailMessage, *, row: InboundEmail, contact: Contact, subject: str) -> Conversation:
    ids = _referenced_ids(parsed)
    if ids:
        keys = [message_id_key(message_id) for message_id in ids]
        refs = {ref.key: ref for ref in EmailThreadRef.objects.filter(key__in=keys)}
        for key in keys:
            ref = refs.get(key)
            if ref is None:
                continue
            if ref.contact_id != contact.pk:
                break  # someone else's thread (a bulk email, a forward): theirs stays theirs
            if ref.conversation_id is not None:
                conversation = Conversation.objects.filter(pk=ref.conversation_id).first()
                if conversation is not None:
                    return conversation
            # An answer to an email a workflow sent: its own conversation, which the rest of
            # the thread joins.
            conversation = inbound_conversation(contact=contact, channel=Channel.EMAIL, subject=subject,
                                                join_open=False)
            EmailThreadRef.objects.filter(key=key, conversation__isnull=True).update(conversation=conversation)
            return conversation
    for address in _recipients(parsed, row):
        conversation_id = conversation_id_from_address(address)
        if conversation_id is None:
            continue
        conversation = Conversation.objects.filter(pk=conversation_id, channel=Channel.EMAIL).first()
        if conversation is not None and conversation.contact_id == contact.pk:
            return conversation
    return inbound_conversation(contact=contact, channel=Channel.EMAIL, subject=subject)


def _attachment_parts(parsed: EmailMessage) -> list[tuple[str, str, int, EmailMessage]]:
    """The email's attachments, in order: (file name, content type, size, part). Every leaf part
    that is not the text or HTML shown (files, inline images, a forwarded message)."""
    try:
        shown = {id(part) for part in (parsed.get_body(preferencelist=("plain",)),
                                       parsed.get_body(preferencelist=("html",))) if part is not None}
    except Exception:
        shown = set()
    found = []
    for part in parsed.walk():
        if part.is_multipart() or id(part) in shown:
            continue
        content_type = part.get_content_type()
        if content_type in ("text/plain", "text/html") and not part.get_filename() \
                and part.get_content_disposition() != "attachment":
            continue  # another alternative of the text, not a file
        payload = part.get_payload(decode=True)
        size = len(payload) if isinstance(payload, bytes) else len(str(part.get_payload()))
        name = _safe_name(part.get_filename() or "", index=len(found) + 1, content_type=content_type)
        found.append((name, content_type, size, part))
    return found


def _safe_name(name: str, *, index: int, content_type: str) -> str:
    """A file name to offer for download: its last path segment, printable, at most 120 characters."""
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(char for char in name if char.isprintable() and char not in '"<>:|?*').strip(". ")
    if not name:
        extension = {"image/png": ".png", "image/jpeg": ".jpg", "application/pdf": ".pdf"}.get(content_type, "")
        name = f"attachment-{index}{extension}"
    return name[-120:]


def email_attachment_read(message: Any, index: int) -> Attachment | None:
    """conversations.channels' reader for email: the attachment, taken from the email kept raw."""
    inbound_id = (message.channel_metadata.get("email") or {}).get("inbound_email_id")
    raw = InboundEmail.objects.filter(pk=inbound_id, conversation_id=message.conversation_id) \
        .values_list("raw", flat=True).first()
    if raw is None:
        return None
    parts = _attachment_parts(BytesParser(policy=policy.default).parsebytes(bytes(raw)))
    if not 0 <= index < len(parts):
        return None
    name, content_type, _size, part = parts[index]
    payload = part.get_payload(decode=True)
    content = payload if isinstance(payload, bytes) else str(part.get_payload()).encode("utf-8", "replace")
    return Attachment(name=name, content_type=content_type, content=content)


def _bodies(parsed: EmailMessage) -> tuple[str, str]:
    """(text, sanitised html): the text part, or the HTML's text where there is none."""
    text, html = "", ""
    try:
        plain = parsed.get_body(preferencelist=("plain",))
        rich = parsed.get_body(preferencelist=("html",))
    except Exception:
        plain = rich = None
    if plain is not None:
        text = _part_text(plain)
    if rich is not None:
        html = nh3.clean(_part_text(rich)[:EXCERPT_CHARS * 2])
    if not text and html:
        text = _html_text(html)
    return text[:EXCERPT_CHARS], html


def _part_text(part: EmailMessage) -> str:
    charset = part.get_content_charset()
    if charset in (None, "us-ascii"):
        # 8-bit text that declares no charset (or ASCII wrongly): UTF-8 if it is, else Windows-1252.
        raw = part.get_payload(decode=True)
        if isinstance(raw, bytes) and not raw.isascii():
            try:
                return raw.decode("utf-8").replace("\r\n", "\n")
            except UnicodeDecodeError:
                return raw.decode("windows-1252", "replace").replace("\r\n", "\n")
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError, UnicodeError):  # unknown charset, broken encoding
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    return str(content).replace("\r\n", "\n")


_BLOCK_END = re.compile(r"(?i)<\s*(br|/p|/div|/li|/tr|/h[1-6])\s*/?>")


def _html_text(html: str) -> str:
    text = _BLOCK_END.sub("\n", html)
    text = nh3.clean(text, tags=set())
    text = html_lib.unescape(text)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.strip() for line in text.splitlines())).strip()


@functools.cache
def _reply_parser() -> EmailReplyParser:
    # Every language it knows the quote headers of ("On ... wrote:", "El ... escribió:", ...).
    return EmailReplyParser(languages=[code for code in MAIL_LANGUAGES if len(code) == 2])


def _trimmed(text: str) -> str:
    """The new text of a reply: quoted history and signature trimmed (the original is kept)."""
    if not text.strip():
        return text
    try:
        parsed = _reply_parser().read(text=text)
        latest = parsed.replies[0].body if parsed.replies else ""
    except Exception:  # a parser's failure must not lose the message: show it whole
        log.warning("Could not trim an email's quoted text", exc_info=True)
        latest = ""
    latest = _quote_block_cut(latest if latest.strip() else text)
    return latest if latest.strip() else text


def _quote_block_cut(text: str) -> str:
    """Cut a trailing quoted block ("> ..." to the end) and the line or two that introduce it
    and end in ":" ("El lun, 30 nov ... escribió:", "2026년 11월 30일 ... 작성:"), in any
    language the parser has no patterns for. Quotes answered in between are left whole."""
    lines = text.splitlines()
    start = None
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index].strip()
        if line.startswith(">"):
            start = index
        elif line:
            break
    if start is None:
        return text
    header = start - 1
    while header >= 0 and not lines[header].strip():
        header -= 1
    if header >= 0 and lines[header].rstrip().endswith(":"):
        top = header  # a header wrapped over up to three lines: from the blank line before it
        while top > 0 and lines[top - 1].strip():
            top -= 1
        start = top if header - top < 3 else header
    return "\n".join(lines[:start]).rstrip()
