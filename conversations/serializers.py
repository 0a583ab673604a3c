"""The API shapes of conversations and messages: output serializers and accepted input."""

from __future__ import annotations

from rest_framework import serializers

from conversations.models import Conversation, Message
from supportdesk.api import StrictInputMixin
from timeline.serializers import ContactSummarySerializer


class ConversationSerializer(serializers.ModelSerializer):
    contact = ContactSummarySerializer(read_only=True)

    class Meta:
        model = Conversation
        fields = [
            "id", "contact", "channel", "status", "language", "contact_reason", "priority",
            "subject", "assignee", "last_message_sequence", "last_message_at", "created_at",
            "first_response_at", "resolved_at", "updated_at",
        ]
        read_only_fields = fields


class ConversationCreateInputSerializer(StrictInputMixin, serializers.ModelSerializer):
    class Meta:
        model = Conversation
        fields = ["contact", "channel", "subject", "language", "contact_reason", "priority"]
        extra_kwargs = {
            "language": {"help_text": "BCP 47; the contact's preferred language when left out."},
        }


class ConversationUpdateInputSerializer(StrictInputMixin, serializers.ModelSerializer):
    """What may change on a conversation through the API: its status."""

    class Meta:
        model = Conversation
        fields = ["status"]


class MessageSerializer(serializers.ModelSerializer):
    author_label = serializers.CharField(
        read_only=True, help_text='The author\'s user name, or "contact" or "system".'
    )

    class Meta:
        model = Message
        fields = [
            "id", "conversation", "sequence", "direction", "author_user", "author_label",
            "body", "channel_metadata", "created_at",
        ]
        read_only_fields = fields


class MessageCreateInputSerializer(StrictInputMixin, serializers.ModelSerializer):
    # Keep the body as written; whether it is empty is the service's rule to apply.
    body = serializers.CharField(trim_whitespace=False)
    channel_metadata = serializers.DictField(required=False)

    class Meta:
        model = Message
        fields = ["direction", "body", "channel_metadata"]
