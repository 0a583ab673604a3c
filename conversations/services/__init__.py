"""Writes to conversations and messages, one module per use case; the names callers use
are re-exported here, so `from conversations import services` keeps working."""

from conversations.selectors import author_name
from conversations.services.chat_end import (
    ChatEnd,
    VisitorWatch,
    chat_end,
    chat_ended_text,
    chats_abandoned_sweep,
    visitor_chat_end,
    visitor_seen,
)
from conversations.services.common import (
    CLIENT_ID,
    assigned_record,
    check_body,
    check_client_id,
    timeline_actor,
)
from conversations.services.conversations import (
    conversation_open,
    conversation_resolve,
    conversation_route,
    conversation_status_set,
    conversation_transfer,
    routing_attributes,
)
from conversations.services.messages import agent_read_mark, agent_reply, message_create, note_add, read_mark
from conversations.services.offers import offer_accept, offer_decline
from conversations.services.ratings import conversation_rating_record
from conversations.services.visitors import (
    chat_current,
    visitor_chat,
    visitor_email_set,
    visitor_message_send,
    visitor_message_send_async,
    visitor_read_mark,
    visitor_session_start,
)
from conversations.services.work_tasks import proactive_message_send, task_open
from supportdesk.errors import DomainError

__all__ = [
    "CLIENT_ID", "ChatEnd", "DomainError", "VisitorWatch", "chat_end", "chat_ended_text", "chats_abandoned_sweep",
    "visitor_chat_end", "visitor_seen", "agent_read_mark", "agent_reply", "assigned_record", "author_name",
    "chat_current", "check_body", "check_client_id", "conversation_open", "conversation_rating_record",
    "conversation_resolve",
    "conversation_route", "conversation_status_set", "conversation_transfer", "message_create",
    "note_add", "offer_accept", "proactive_message_send", "offer_decline", "read_mark", "routing_attributes",
    "task_open", "timeline_actor", "visitor_chat", "visitor_email_set", "visitor_message_send",
    "visitor_message_send_async", "visitor_read_mark", "visitor_session_start",
]
