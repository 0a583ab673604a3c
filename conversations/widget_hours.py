"""What the chat widget says outside business hours: when the team is back, and email instead.

Which queue decides. The one the visitor's chat would reach as far as the desk can tell
before they write: routing's rules applied to what is known of them (`queue_opening`), the
same attributes a chat of theirs would be routed on (their contact's kind, language, order
value, tier; for an anonymous visitor, a customer in their browser's language). The language
a first message is written in may still send a chat elsewhere; the notice is the desk's best
answer before it. A queue without business hours is always open: the notice is then None.

When. In the visitor's time zone, which the widget sends (the browser's IANA zone), so
"back at 08:00" means 08:00 on their clock; when it sends none the desk knows, in the
queue's time zone, named in the sentence. Formatted once, here, in the visitor's language
(their contact's, else their browser's), and sent as text the widget shows as it is.

Sent with the widget's session (POST /widget/session) as it loads; the widget takes the
notice down at `back_at`.

Email instead. A mailto: link to SUPPORT_EMAIL_ADDRESS (support@ at the inbound domain,
which opens an email conversation). The chat stays open for a message that waits for the
team: its service-level clocks do not run while the queue is closed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.utils import formats, timezone, translation
from django.utils.translation import gettext

from conversations.models import Channel, Conversation
from conversations.services.conversations import routing_attributes
from routing.selectors import Opening, queue_opening
from timeline.models import Contact, ContactKind

TIME_ZONE_MAX_CHARS = 64


def visitor_zone(name: str) -> ZoneInfo | None:
    """The zone a widget reports, when it is one the desk knows."""
    if not name or len(name) > TIME_ZONE_MAX_CHARS:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def visitor_opening(*, contact: Contact | None, language: str, now: datetime) -> Opening:
    """Whether the queue the visitor's chat would reach is open (see the module's docstring)."""
    someone = contact if contact is not None else Contact(kind=ContactKind.CUSTOMER)
    attributes = routing_attributes(Conversation(contact=someone, channel=Channel.CHAT,
                                                 language=language.split("-")[0].lower()))
    return queue_opening(channel=Channel.CHAT, attributes=attributes, now=now)


def back_text(back_at: datetime | None, *, zone: ZoneInfo, now: datetime, zone_named: bool) -> str:
    """The sentence saying when the team is back, in the active language, its time on `zone`'s
    clock (today, tomorrow, or the weekday and date), naming the zone when `zone_named`."""
    if back_at is None:
        return gettext("We are closed right now.")
    local = back_at.astimezone(zone)
    days = (local.date() - now.astimezone(zone).date()).days
    clock = formats.time_format(local, "TIME_FORMAT")
    if days == 0:
        text = gettext("We are closed right now. We are back at %(time)s today.") % {"time": clock}
    elif days == 1:
        text = gettext("We are closed right now. We are back at %(time)s tomorrow.") % {"time": clock}
    else:
        text = gettext("We are closed right now. We are back at %(time)s on %(weekday)s, %(date)s.") % {
            "weekday": formats.date_format(local, "l"), "date": formats.date_format(local, "MONTH_DAY_FORMAT"),
            "time": clock}
    if zone_named:
        text = f"{text} {gettext('(Times in %(zone)s.)') % {'zone': zone.key}}"
    return text


def hours_notice(*, contact: Contact | None, browser_language: str = "", time_zone: str = "",
                 now: datetime | None = None, text_language: str = "") -> dict[str, Any] | None:
    """The widget's notice while the visitor's queue is closed, or None while it is open:
    `{"back_at": ISO or None, "text": ..., "email": address, "email_text": ...}`, the texts
    in `text_language` (the widget's, supportdesk.languages) or else the visitor's language
    (their contact's, else their browser's), which also picks the queue."""
    now = now or timezone.now()
    language = (contact.preferred_language if contact is not None else "") or browser_language
    opening = visitor_opening(contact=contact, language=language, now=now)
    if opening.is_open:
        return None
    zone = visitor_zone(time_zone)
    with translation.override(text_language or language or settings.CHAT_DEFAULT_LANGUAGE):
        text = back_text(opening.back_at, zone=zone or ZoneInfo(opening.time_zone), now=now,
                         zone_named=zone is None)
        email_text = gettext("Email us instead: %(address)s") % {"address": settings.SUPPORT_EMAIL_ADDRESS}
    return {
        "back_at": opening.back_at.isoformat() if opening.back_at else None,
        "text": text,
        "email": settings.SUPPORT_EMAIL_ADDRESS,
        "email_text": email_text,
    }

