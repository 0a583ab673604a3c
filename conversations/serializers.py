"""The API shapes of conversations and messages: output serializers and accepted input."""

from __future__ import annotations

from django.utils.translation import gettext
from rest_framework import serializers

from conversations.models import CLIENT_ID_PATTERN, RESERVED_METADATA, Conversation, Message
from conversations.suggestions.recording import KINDS
from supportdesk.api import StrictInputMixin
from timeline.serializers import ContactSummarySerializer


class ConversationSerializer(serializers.ModelSerializer):
    contact = ContactSummarySerializer(read_only=True)

    class Meta:
        model = Conversation
        fields = [
            "id", "contact", "channel", "status", "language", "contact_reason", "priority",
            "subject", "assignee", "last_message_sequence", "last_message_at", "created_at",
            "first_response_at", "resolved_at", "updated_at", "rating", "rating_comment", "rated_at",
            "intent", "intent_confidence",
        ]
        read_only_fields = fields


class ConversationCreateInputSerializer(StrictInputMixin, serializers.ModelSerializer):
    class Meta:
        model = Conversation
        fields = ["contact", "channel", "subject", "language", "contact_reason", "priority", "client_id"]
        # A repeated (contact, client_id) is a retry the service answers with the first
        # conversation, not an input error: no unique-together validator here.
        validators: list = []
        extra_kwargs = {
            "language": {"help_text": "BCP 47; the contact's preferred language when left out."},
            "client_id": {"help_text": "Your own id for this request (1-64 letters, digits or _.:-): sent "
                                       "again with the same one, the conversation it opened comes back "
                                       "(200) instead of a second one."},
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
            "body", "channel_metadata", "client_id", "created_at",
        ]
        read_only_fields = fields


class MessageCreateInputSerializer(StrictInputMixin, serializers.ModelSerializer):
    # Keep the body as written; whether it is empty is the service's rule to apply.
    body = serializers.CharField(trim_whitespace=False)
    channel_metadata = serializers.DictField(required=False)

    def validate_channel_metadata(self, value: dict) -> dict:
        # What the desk's own providers write (and read back: an email's attachments) is theirs.
        reserved = sorted(set(value) & RESERVED_METADATA)
        if reserved:
            raise serializers.ValidationError(
                gettext("These keys are the desk's own providers': %(keys)s.") % {"keys": ", ".join(reserved)})
        return value
    client_id = serializers.RegexField(
        CLIENT_ID_PATTERN, required=False,
        help_text="Your own id for the message (1-64 letters, digits or _.:-). Sending the same message "
        "again with it (after a timeout) stores nothing new and answers 200 with the first one; "
        "the same id for a different message is a 409.")
    inserted = serializers.ListField(
        child=serializers.CharField(), required=False, max_length=10,
        help_text="A reply's (`out`) macros and help-center articles the agent put in, as labels "
        "(`macro:<shortcut>`, `article:<key>`): the suggested replies learn from them. Ignored on other messages.")

    class Meta:
        model = Message
        fields = ["direction", "body", "channel_metadata", "client_id", "inserted"]


class SuggestionSerializer(serializers.Serializer):
    # Not an enum in the schema: a second "kind" enum would rename the contacts' (KindEnum).
    kind = serializers.CharField(read_only=True, help_text=" or ".join(f"`{kind}`" for kind in KINDS) + ".")
    key = serializers.CharField(read_only=True, help_text="The macro's shortcut, or the article's key.")
    label = serializers.CharField(read_only=True, help_text="As a reply records it in `inserted`.")
    title = serializers.CharField(read_only=True, help_text="In the conversation's language.")
    text = serializers.CharField(read_only=True, help_text="What to insert: the macro's text with the "
                                 "conversation's variables filled in, or the article's public link.")


class SuggestionModelSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    trained_at = serializers.DateTimeField(read_only=True)
    examples = serializers.IntegerField(read_only=True, help_text="Agent replies it learnt from.")
    held_out = serializers.IntegerField(read_only=True, help_text="Replies of the last week it was measured on.")
    hit_rate = serializers.FloatField(read_only=True, allow_null=True,
                                      help_text="Share of those whose macro or article was among its first 3.")


class SuggestionsSerializer(serializers.Serializer):
    conversation = serializers.IntegerField(read_only=True)
    language = serializers.CharField(read_only=True)
    suggestions = SuggestionSerializer(many=True, read_only=True, source="items")
    model = SuggestionModelSummarySerializer(read_only=True, allow_null=True)
