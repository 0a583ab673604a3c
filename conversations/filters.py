"""Query-string filters for the conversation API (django-filter)."""

from __future__ import annotations

from django_filters import rest_framework as filters

from conversations.models import Conversation
from supportdesk.api import IdFilter


class ConversationFilter(filters.FilterSet):
    contact = IdFilter(field_name="contact__id", help_text="The contact's database id.")
    assignee = IdFilter(field_name="assignee__id", help_text="The assigned user's id.")

    class Meta:
        model = Conversation
        fields = ["contact", "status", "channel", "language", "assignee"]
