"""The desk's own words around an email it sends a customer: the subject of an agent's reply
when the conversation has none, and the footer under the body (an agent's reply, or an
automated email: a workflow's message, the satisfaction survey).

What the agent or the workflow wrote is the body and stays as written; only the frame is the
desk's, so it is translated here with the integrations catalogue into the customer's language
(`supportdesk.languages.customer_language`: the conversation's or the contact's language,
English when the desk ships no texts in it). Every string in this module is one a customer
reads: tests/supportdesk/test_customer_texts.py asks each customer language for all of them.
"""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext

from supportdesk.languages import customer_language, supported

# RFC 3676's signature separator: mail clients show what follows as a signature (greyed, or
# folded away in a quoted reply), apart from the agent's words.
SIGNATURE_SEPARATOR = "-- "


def frame_language(*languages: str | None) -> str:
    """The first of `languages` the desk ships customer texts in, else English."""
    return next((code for code in map(supported, languages) if code), "") or customer_language()


def _framed(body: str, footer: str) -> str:
    return f"{body.rstrip()}\n\n{SIGNATURE_SEPARATOR}\n{footer}\n"


def reply_subject_default(*, conversation_id: int, language: str) -> str:
    """The subject of a reply in a conversation that has none (one opened by chat or phone)."""
    with translation.override(language):
        return gettext("Your conversation #%(id)s") % {"id": conversation_id}


def reply_framed(body: str, *, conversation_id: int, language: str) -> str:
    """An agent's reply as emailed: the body, then how to answer it."""
    with translation.override(language):
        footer = gettext("To answer, reply to this email; your answer joins conversation #%(id)s.") % {
            "id": conversation_id}
    return _framed(body, footer)


def automated_framed(body: str, *, language: str) -> str:
    """An email no person wrote (a workflow's, a survey's): the body, then that it is automatic
    and that an answer still reaches people."""
    with translation.override(language):
        footer = gettext("This email was sent automatically. If you need help, reply to it and our "
                         "support team will answer.")
    return _framed(body, footer)
