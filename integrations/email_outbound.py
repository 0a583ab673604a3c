"""The email channel, outbound: the transport `conversations.channels` drives for channel
"email" (registered in IntegrationsConfig.ready).

An agent's reply goes to the contact's address with the conversation's subject, threaded on
the last email the contact sent (In-Reply-To, References), and asks to be answered at the
conversation's reply address (Reply-To: `reply+<token>@EMAIL_INBOUND_DOMAIN`), so the answer
lands in its conversation even from a mail client that rewrites the threading headers. Its
Message-ID comes from the message's key: a send repeated after a crash is the same email.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from conversations.channels import Sent, TransportRefused, TransportRetry
from conversations.models import Conversation, Message, MessageDirection
from integrations import mail
from integrations.email_frame import frame_language, reply_framed, reply_subject_default
from integrations.email_inbound import (
    MAX_REFERENCES,
    MESSAGE_ID_PATTERN,
)
from integrations.email_threads import reply_address, thread_ref_record

REPLY_PREFIXES = ("re:", "aw:", "sv:", "antw:", "r:", "rv:", "res:")


def reply_subject(conversation: Conversation, *, language: str) -> str:
    subject = " ".join(conversation.subject.split())
    if not subject:
        return reply_subject_default(conversation_id=conversation.pk, language=language)
    return subject if subject.lower().startswith(REPLY_PREFIXES) else f"Re: {subject}"


def _thread_headers(conversation: Conversation) -> dict[str, str]:
    """In-Reply-To and References of the contact's last email in the conversation (as kept on
    its message when it came in: no need to read the email itself again)."""
    last = (Message.objects.filter(conversation_id=conversation.pk, direction=MessageDirection.INBOUND,
                                   channel_metadata__email__has_key="message_id")
            .order_by("-sequence").values_list("channel_metadata", flat=True).first())
    email = (last or {}).get("email") or {}
    message_id = email.get("message_id") or ""
    if not MESSAGE_ID_PATTERN.fullmatch(message_id):
        return {}
    references = [ref for ref in email.get("references") or [] if isinstance(ref, str)
                  and MESSAGE_ID_PATTERN.fullmatch(ref)][-(MAX_REFERENCES - 1):]
    return {"In-Reply-To": message_id, "References": " ".join([*references, message_id])}


def email_transport_send(message: Message, conversation: Conversation, idempotency_key: str) -> Sent:
    address = (conversation.contact.email or "").strip()
    if not address:
        raise TransportRefused(_("The contact has no email address."))
    headers = {"Reply-To": reply_address(conversation.pk), **_thread_headers(conversation)}
    if conversation.language:
        headers["Content-Language"] = conversation.language
    # The desk's words around the agent's (subject, footer) in the customer's language, as the
    # satisfaction survey chooses it: the conversation's, else the contact's.
    language = frame_language(conversation.language, conversation.contact.preferred_language)
    try:
        sent = mail.mail_send(to=address, subject=reply_subject(conversation, language=language),
                              body=reply_framed(message.body, conversation_id=conversation.pk, language=language),
                              idempotency_key=idempotency_key, headers=headers)
    except mail.MailPermanentError as error:
        raise TransportRefused(str(error)) from error
    except mail.MailTransientError as error:
        raise TransportRetry(str(error)) from error
    thread_ref_record(message_id=sent.message_id, contact_id=conversation.contact_id,
                      conversation_id=conversation.pk, outbound=True)
    return Sent(reference=sent.message_id, metadata={"email": {"message_id": sent.message_id, "to": address}})
