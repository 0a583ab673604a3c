"""The email channel, outbound: the transport `conversations.channels` drives for channel
"email" (registered in IntegrationsConfig.ready).

An agent's reply goes to the contact's address with the conversation's subject, threaded on
the last email the contact sent (In-Reply-To, References), and asks to be answered at the
conversation's reply address (Reply-To: `reply+<token>@EMAIL_INBOUND_DOMAIN`), so the answer
lands in its conversation even from a mail client that rewrites the threading headers. Its
Message-ID comes from the message's key: a send repeated after a crash is the same email.
"""

from __future__ import annotations

from email import policy
from email.parser import BytesHeaderParser

from django.utils.translation import gettext as _

from conversations.channels import Sent, TransportRefused, TransportRetry
from conversations.models import Conversation, Message
from integrations import mail
from integrations.email_inbound import (
    MAX_REFERENCES,
    MESSAGE_ID_PATTERN,
    header_text,
)
from integrations.email_threads import reply_address, thread_ref_record
from integrations.models import InboundEmail

REPLY_PREFIXES = ("re:", "aw:", "sv:", "antw:", "r:", "rv:", "res:")


def reply_subject(conversation: Conversation) -> str:
    subject = " ".join(conversation.subject.split())
    if not subject:
        return _("Your conversation #%(id)s") % {"id": conversation.pk}
    return subject if subject.lower().startswith(REPLY_PREFIXES) else f"Re: {subject}"


def _thread_headers(conversation: Conversation) -> dict[str, str]:
    last = (InboundEmail.objects.filter(conversation_id=conversation.pk).exclude(message_id="")
            .order_by("-pk").only("pk", "message_id", "raw").first())
    if last is None:
        return {}
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(bytes(last.raw))
    references = MESSAGE_ID_PATTERN.findall(header_text(headers, "References"))[-(MAX_REFERENCES - 1):]
    return {"In-Reply-To": last.message_id, "References": " ".join([*references, last.message_id])}


def email_transport_send(message: Message, conversation: Conversation, idempotency_key: str) -> Sent:
    address = (conversation.contact.email or "").strip()
    if not address:
        raise TransportRefused(_("The contact has no email address."))
    headers = {"Reply-To": reply_address(conversation.pk), **_thread_headers(conversation)}
    if conversation.language:
        headers["Content-Language"] = conversation.language
    try:
        sent = mail.mail_send(to=address, subject=reply_subject(conversation), body=message.body,
                              idempotency_key=idempotency_key, headers=headers)
    except mail.MailPermanentError as error:
        raise TransportRefused(str(error)) from error
    except mail.MailTransientError as error:
        raise TransportRetry(str(error)) from error
    thread_ref_record(message_id=sent.message_id, contact_id=conversation.contact_id,
                      conversation_id=conversation.pk, outbound=True)
    return Sent(reference=sent.message_id, metadata={"email": {"message_id": sent.message_id, "to": address}})
