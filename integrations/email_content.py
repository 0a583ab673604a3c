"""The email channel's MIME reading: an email parsed (compat32, headers left as the strings they
came as), a header as text whatever its encoding, the bodies shown (the text with its quoted
history and signature trimmed by mail-parser-reply, the HTML sanitised by nh3) and the
attachments listed and read back. What `integrations.email_inbound`'s pipeline (intake, the
batch, contacts, threads) shows of each email; no database here but reading an attachment back
from its stored raw email.
"""

from __future__ import annotations

import functools
import html as html_lib
import logging
import re
from email import policy
from email.contentmanager import raw_data_manager
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import nh3
from mailparser_reply import EmailReplyParser
from mailparser_reply.constants import MAIL_LANGUAGES

from conversations.channels import Attachment
from integrations.models import InboundEmail

log = logging.getLogger(__name__)

EXCERPT_CHARS = 200_000  # of a text part, before trimming (a pasted log file is not read whole)
MAX_ATTACHMENTS = 100  # listed on the message (all are kept in the raw email)


class _Message(EmailMessage):
    """An email parsed with the compat32 policy, whose headers stay the strings they came as:
    the default policy parses a header into an object each time one is read (a part's content
    type, its disposition, while parsing and while the body is looked for), which made the MIME
    parse of a 50 KB HTML email take three times as long. EmailMessage's body helpers
    (`get_body`, `get_content`) still serve, given what they expect of those objects."""

    def is_attachment(self) -> bool:
        return self.get_content_disposition() == "attachment"

    def get_content(self, *args: Any, content_manager: Any = None, **kw: Any) -> Any:
        return super().get_content(*args, content_manager=content_manager or raw_data_manager, **kw)


def email_message_parse(raw: bytes) -> _Message:
    return BytesParser(_class=_Message, policy=policy.compat32).parsebytes(raw)


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


def attachment_parts(parsed: EmailMessage, *,
                      shown: tuple[EmailMessage | None, EmailMessage | None] | None = None,
                      ) -> list[tuple[str, str, int, EmailMessage]]:
    """The email's attachments, in order: (file name, content type, size, part). Every leaf part
    that is not the text or HTML shown (files, inline images, a forwarded message). `shown`:
    those two parts, when the caller found them already (`body_parts`)."""
    shown_ids = {id(part) for part in (shown if shown is not None else body_parts(parsed)) if part is not None}
    found = []
    for part in parsed.walk():
        if part.is_multipart() or id(part) in shown_ids:
            continue
        content_type = part.get_content_type()
        if content_type in ("text/plain", "text/html") and not part.get_filename() \
                and part.get_content_disposition() != "attachment":
            continue  # another alternative of the text, not a file
        payload = part.get_payload(decode=True)
        size = len(payload) if isinstance(payload, bytes) else len(str(part.get_payload()))
        name = _safe_name(_filename(part), index=len(found) + 1, content_type=content_type)
        found.append((name, content_type, size, part))
    return found


def _filename(part: EmailMessage) -> str:
    """A part's file name, its RFC 2231 encoding or RFC 2047 words (which many mail clients put
    in the quoted name, against the standard) decoded."""
    name = part.get_filename() or ""
    return header_text({"filename": name}, "filename") if "=?" in name else name


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
    parts = attachment_parts(email_message_parse(bytes(raw)))
    if not 0 <= index < len(parts):
        return None
    name, content_type, _size, part = parts[index]
    payload = part.get_payload(decode=True)
    content = payload if isinstance(payload, bytes) else str(part.get_payload()).encode("utf-8", "replace")
    return Attachment(name=name, content_type=content_type, content=content)


def body_parts(parsed: EmailMessage) -> tuple[EmailMessage | None, EmailMessage | None]:
    """The parts shown: (the text one, the HTML one), either None."""
    try:
        return parsed.get_body(preferencelist=("plain",)), parsed.get_body(preferencelist=("html",))
    except Exception:
        return None, None


def bodies(plain: EmailMessage | None, rich: EmailMessage | None) -> tuple[str, str]:
    """(text, sanitised html): the text part, or the HTML's text where there is none."""
    text, html = "", ""
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


def text_trimmed(text: str) -> str:
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
