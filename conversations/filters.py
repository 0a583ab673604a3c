"""Query-string filters for the conversation API (django-filter)."""

from __future__ import annotations

from conversations.models import Conversation
from supportdesk.api import FilterSet, IdFilter


class ConversationFilter(FilterSet):
    contact = IdFilter(field_name="contact__id", help_text="The contact's database id.")
    assignee = IdFilter(field_name="assignee__id", help_text="The assigned user's id.")

    class Meta:
        model = Conversation
        fields = ["contact", "status", "channel", "language", "assignee"]
