"""Every word the chat widget shows that is not a message: the frame's own labels and what its
JavaScript writes (status lines, delivery states, errors). One table, translated with the
conversations catalogue, sent to the page as JSON (in the frame, and again with the session
once the contact's language is known), so static/widget/words.js never carries English of its
own. Placeholders are Python's `%(name)s`; words.js fills them in.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

WORDS = {
    "title": _("Chat with support"),
    "support": _("Support"),
    "usually": _("We usually answer within minutes."),
    "greeting": _("Hi %(name)s! We usually answer within minutes."),
    "end_chat": _("End chat"),
    "close_chat": _("Close the chat"),
    "launcher_close": _("Close the support chat"),
    "messages": _("Messages"),
    "your_message": _("Your message"),
    "write": _("Write a message…"),
    "send": _("Send"),
    "save": _("Save"),
    "saving": _("Saving…"),
    "email_ask": _("No one is online right now. Leave your email and we will answer there."),
    "email_invalid": _("Enter an email address, e.g. you@example.com."),
    "email_thanks": _("Thanks! We will answer at %(email)s."),
    "connecting": _("Connecting…"),
    "connected": _("Connected"),
    "connected_no_agent": _("Connected · no agent is online right now"),
    "offline_retry": _("Offline; reconnecting in %(seconds)s s…"),
    "cannot_reach": _("Cannot reach support; trying again in %(seconds)s s…"),
    "could_not_start": _("Support could not start the chat."),
    "retry_in": _("Trying again in %(seconds)s s…"),
    "signin_failed": _("The site's sign-in could not be checked; you are chatting as a guest. "
                       "Reload the page to retry."),
    "not_connected": _("Not connected yet; try again in a moment."),
    "something_wrong": _("Something went wrong."),
    "too_long": _("A message may have at most %(count)s characters."),
    "sending_quickly": _("You are sending messages quickly; yours will go in %(seconds)s s."),
    "too_many": _("Too many attempts; wait %(seconds)s s."),
    "state_sending": _("Sending…"),
    "state_sent": _("Sent"),
    "state_seen": _("Seen"),
    "state_failed": _("Not sent"),
    "chatting_with": _("You are chatting with %(name)s"),
    "typing": _("%(name)s is typing…"),
    "resolved": _("This chat has been resolved. Write again to start a new one."),
    "closed": _("This chat has ended. Write again to start a new one."),
    # Self-service before a chat (static/widget/orders.js; the answers' own words come from the server).
    "orders_title": _("Your recent orders"),
    "delivery_title": _("Your current delivery"),
    "store_title": _("Your store today"),
    "ask_order_status": _("Where is my order?"),
    "ask_late": _("It is late"),
    "ask_cancel": _("Cancel it"),
    "ask_missing_item": _("An item is missing"),
    "cancel_confirm": _("Yes, cancel it"),
    "talk_to_agent": _("Talk to an agent"),
    # Help-center suggestions before a chat (static/widget/articles.js).
    "suggested": _("Articles that may help"),
    "article_back": _("Back to the chat"),
    "article_answered": _("This answered my question"),
    "article_thanks": _("Glad it helped! Write again whenever you need us."),
    "article_unavailable": _("This article could not be opened; try again."),
}


def widget_words() -> dict[str, str]:
    """The table in the active language."""
    return {key: str(text) for key, text in WORDS.items()}
