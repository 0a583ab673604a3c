"""Who may see and act on conversations: the one rule the desk, the API and the sockets ask.

- A supervisor (supportdesk.access, one permission) sees and acts on every conversation.
- An agent sees a conversation offered or assigned to them, or one they answered before
  (they are its assignee), and acts (replies, notes, status, transfer) only on one assigned
  to them now.
- An integration (its own token, `supportdesk.integrate`) opens conversations and writes
  in them as the contact (`direction: in`); it reads nothing through the API.
- A customer answers a call invitation through its signed link alone (`access_call_invitation_link`).
- A widget's visitor reaches only their own contact's chats (`access_visitor_chat`), and, signed
  in by the host site, only their own orders (`access_visitor_order`) and self-service
  (`access_visitor_contact`).
- Anyone else sees nothing. Not found and not yours answer the same 404: ids are not for probing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext

from conversations.call_links import call_invitation_from_token
from conversations.models import CallInvitation, Channel, Conversation, MessageDirection
from routing.access import is_agent
from routing.models import HELD_STATES, ItemState, WorkItem
from supportdesk.access import is_desk_user, is_integration, is_supervisor
from supportdesk.errors import DomainError, NotFound
from timeline.models import Contact, ContactKind, Order

if TYPE_CHECKING:
    from conversations.widget import Session

__all__ = ["Forbidden", "access_conversation", "check_message_post", "check_supervisor", "conversations_visible",
           "holds_conversation", "is_agent", "is_desk_user", "is_integration", "is_supervisor", "may_see_notes"]


class Forbidden(DomainError):
    code = "permission_denied"
    status_code = 403


def _not_found(conversation_id: Any) -> NotFound:
    return NotFound(gettext("Conversation %(id)s does not exist.") % {"id": conversation_id})


def _held_items(*, user: Any, states: tuple[str, ...]) -> QuerySet[WorkItem]:
    return WorkItem.objects.filter(agent__user_id=user.pk, state__in=states)


def conversations_visible(user: Any) -> QuerySet[Conversation]:
    """Every conversation this user may see (the API's list, and any export or search)."""
    conversations = Conversation.objects.all()
    if is_supervisor(user):
        return conversations
    if not is_agent(user):
        return conversations.none()
    held = _held_items(user=user, states=HELD_STATES).values("conversation_id")
    return conversations.filter(Q(pk__in=held) | Q(assignee_id=user.pk))


def access_conversation(*, user: Any, conversation_id: int, act: bool = False) -> Conversation:
    """The conversation, if this user may see it (`act`: and write to it as the desk)."""
    conversation = (Conversation.objects.select_related("contact", "assignee")
                    .filter(pk=conversation_id).first())
    if conversation is None or not is_desk_user(user):
        raise _not_found(conversation_id)
    if is_supervisor(user):
        return conversation
    states = (ItemState.ASSIGNED,) if act else HELD_STATES
    if _held_items(user=user, states=states).filter(conversation_id=conversation_id).exists():
        return conversation
    if not act and conversation.assignee_id == user.pk:
        return conversation
    raise _not_found(conversation_id)


def holds_conversation(*, user: Any, conversation_id: int) -> bool:
    """Whether the conversation is assigned to this user now (they may act on it)."""
    return _held_items(user=user, states=(ItemState.ASSIGNED,)).filter(conversation_id=conversation_id).exists()


def check_supervisor(user: Any) -> None:
    """Only supervisors (the one permission, supportdesk.access) use the supervisors' desk pages
    (conversations.supervision, the suggested replies' figures) and their services."""
    if not is_supervisor(user):
        raise Forbidden(gettext("Only supervisors may do this."), code="not_a_supervisor")


def may_see_notes(user: Any) -> bool:
    """Internal notes are the desk's: never an integration's (nor, through it, the contact's)."""
    return is_desk_user(user)


def check_message_post(*, user: Any, conversation_id: int, direction: str) -> Conversation:
    """Who may add which message: the contact's words (`in`) come only from an integration's
    own credentials, never from a person of the desk; replies and notes only from the desk,
    on a conversation the person may act on."""
    if direction == MessageDirection.INBOUND:
        if not is_integration(user):
            raise Forbidden(gettext("Only an integration, with its own token, may post the contact's "
                                    "messages (direction \"in\")."), code="inbound_forbidden")
        conversation = Conversation.objects.filter(pk=conversation_id).first()
        if conversation is None:
            raise _not_found(conversation_id)
        return conversation
    if not is_desk_user(user):
        raise Forbidden(gettext("Only agents and supervisors write replies and notes."),
                        code="permission_denied")
    return access_conversation(user=user, conversation_id=conversation_id, act=True)


__all__ += ["access_call_invitation_link"]


def access_call_invitation_link(*, token: str) -> CallInvitation:
    """The call invitation a customer's public link names (seed 002): no login, the signed link
    is the access (conversations.call_links: LinkInvalid 400, LinkExpired 410 otherwise)."""
    return call_invitation_from_token(token)


__all__ += ["access_visitor_chat"]


def access_visitor_chat(*, session: Session, conversation_id: int) -> Conversation:
    """The chat, if it is the widget session's contact's (an identified contact's, or the
    anonymous visitor's own); any other conversation is not found."""
    chats = Conversation.objects.filter(pk=conversation_id, channel=Channel.CHAT)
    if session.contact_id:
        chats = chats.filter(contact_id=session.contact_id)
    else:
        chats = chats.filter(contact__kind=ContactKind.CUSTOMER, contact__external_id=session.visitor_external_id)
    conversation = chats.first()
    if conversation is None:
        raise _not_found(conversation_id)
    return conversation


__all__ += ["access_visitor_contact", "access_visitor_order"]


def access_visitor_contact(*, session: Session) -> Contact:
    """The contact a widget session speaks for, when the host site signed who they are: the
    self-service answers about orders, deliveries and stores are theirs only. An anonymous
    visitor has none (not found)."""
    contact = Contact.objects.filter(pk=session.contact_id).first() if session.contact_id else None
    if contact is None:
        raise NotFound(gettext("Sign in on the site to see your orders."), code="not_signed_in")
    return contact


def access_visitor_order(*, session: Session, order_id: Any) -> Order:
    """The order, if it is the signed-in customer's own; anyone else's (or none) is not found."""
    order = None
    if session.contact_id and isinstance(order_id, int) and not isinstance(order_id, bool):
        order = (Order.objects.select_related("courier", "partner", "customer")
                 .filter(pk=order_id, customer_id=session.contact_id).first())
    if order is None:
        raise NotFound(gettext("This order was not found."), code="order_not_found")
    return order
