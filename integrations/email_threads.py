"""Email threads: the Message-IDs the desk knows and the conversation each belongs to, and the
reply address that names a conversation (`reply+<token>@EMAIL_INBOUND_DOMAIN`)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from integrations.models import EmailThreadRef

_TOKEN_LOCAL = re.compile(r"^reply\+(\d{1,18})-([0-9a-f]{16})$", re.IGNORECASE)


def message_id_key(message_id: str) -> str:
    return hashlib.sha256(message_id.strip().lower().encode()).hexdigest()


def reply_token(conversation_id: int) -> str:
    digest = salted_hmac("integrations.email.reply", str(conversation_id)).hexdigest()[:16]
    return f"{conversation_id}-{digest}"


def reply_address(conversation_id: int) -> str:
    """The address the desk's replies ask to be answered at: it names the conversation."""
    return f"reply+{reply_token(conversation_id)}@{settings.EMAIL_INBOUND_DOMAIN}"


def conversation_id_from_address(address: str) -> int | None:
    local, _at, domain = address.strip().strip("<>").rpartition("@")
    if domain.lower() != settings.EMAIL_INBOUND_DOMAIN.lower():
        return None
    match = _TOKEN_LOCAL.match(local)
    if not match:
        return None
    conversation_id = int(match.group(1))
    given = f"{match.group(1)}-{match.group(2).lower()}"
    return conversation_id if constant_time_compare(reply_token(conversation_id), given) else None


@dataclass(frozen=True)
class ThreadRef:
    message_id: str
    contact_id: int
    conversation_id: int | None
    outbound: bool


def thread_ref_record(*, message_id: str, contact_id: int, conversation_id: int | None, outbound: bool) -> None:
    """Remember a Message-ID of the desk's (sent or received), once."""
    thread_refs_record([ThreadRef(message_id=message_id, contact_id=contact_id, conversation_id=conversation_id,
                                  outbound=outbound)])


def thread_refs_record(refs: Iterable[ThreadRef]) -> None:
    """Remember many Message-IDs at once (one statement), each once: one already known, or
    twice in `refs`, keeps its first record."""
    rows: dict[str, EmailThreadRef] = {}
    for ref in refs:
        if ref.message_id:
            key = message_id_key(ref.message_id)
            rows.setdefault(key, EmailThreadRef(key=key, message_id=ref.message_id[:998],
                                                contact_id=ref.contact_id, conversation_id=ref.conversation_id,
                                                outbound=ref.outbound))
    if rows:
        EmailThreadRef.objects.bulk_create(list(rows.values()), ignore_conflicts=True)
