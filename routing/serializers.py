"""The API shapes of routing: agents' routing state, work items with their history, queue
stats, and the input each routing endpoint accepts."""

from __future__ import annotations

from rest_framework import serializers

from routing.models import CHANNELS, Presence, WorkItem, WorkItemEvent
from supportdesk.api import StrictInputMixin

# One integer per channel, the fields made from CHANNELS so a new channel shows up here too.
ChannelCountsSerializer = type(
    "ChannelCountsSerializer",
    (serializers.Serializer,),
    {channel: serializers.IntegerField(read_only=True) for channel in CHANNELS},
)


class AgentRoutingStateSerializer(serializers.Serializer):
    presence = serializers.ChoiceField(choices=Presence.choices, read_only=True)
    presence_since = serializers.DateTimeField(read_only=True, allow_null=True)
    last_heartbeat_at = serializers.DateTimeField(read_only=True, allow_null=True)
    capacity = ChannelCountsSerializer(read_only=True, help_text="Open items the agent may hold at once.")
    load = ChannelCountsSerializer(read_only=True, help_text="Items offered or assigned to the agent now.")


class HeartbeatSerializer(serializers.Serializer):
    presence = serializers.ChoiceField(choices=Presence.choices, read_only=True)
    last_heartbeat_at = serializers.DateTimeField(read_only=True, allow_null=True)


class PresenceInputSerializer(StrictInputMixin, serializers.Serializer):
    """The presence an agent sets for themselves."""

    presence = serializers.ChoiceField(choices=Presence.choices)
    reassign = serializers.BooleanField(
        default=False,
        help_text="When going away: return assigned items to the queue too, not only open offers.",
    )


class DeclineInputSerializer(StrictInputMixin, serializers.Serializer):
    """Why the agent declines, recorded on the item's history."""

    reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class TransferInputSerializer(StrictInputMixin, serializers.Serializer):
    """Exactly one target; the service refuses both or neither (`transfer_target`)."""

    queue = serializers.CharField(required=False, help_text="The key of the queue to move the item to.")
    agent = serializers.IntegerField(
        required=False, min_value=1, help_text="The agent profile id to assign the item to."
    )


class WorkItemSerializer(serializers.ModelSerializer):
    queue = serializers.SlugRelatedField(slug_field="key", read_only=True,
                                         help_text="The key of the queue the item is in.")

    class Meta:
        model = WorkItem
        fields = [
            "id", "conversation_id", "channel", "language", "contact_kind", "queue", "priority",
            "state", "agent", "required_skills", "optional_skills", "enqueued_at", "queued_at",
            "offered_at", "offer_expires_at", "assigned_at", "completed_at", "escalated_at",
            "sla_breached_at",
        ]
        read_only_fields = fields


class WorkItemEventSerializer(serializers.ModelSerializer):
    queue = serializers.SlugRelatedField(slug_field="key", read_only=True, allow_null=True,
                                         help_text="The key of the queue the item was in.")

    class Meta:
        model = WorkItemEvent
        fields = ["id", "kind", "at", "agent", "queue", "detail"]
        read_only_fields = fields


class WorkItemDetailSerializer(WorkItemSerializer):
    events = WorkItemEventSerializer(many=True, read_only=True)

    class Meta(WorkItemSerializer.Meta):
        fields = [
            *WorkItemSerializer.Meta.fields, "attributes", "rule", "optional_relaxed",
            "min_agent_tier", "declined_by", "events",
        ]
        read_only_fields = fields


class QueueStatsSerializer(serializers.Serializer):
    key = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    priority = serializers.IntegerField(read_only=True)
    target_wait_seconds = serializers.IntegerField(read_only=True)
    waiting = serializers.IntegerField(read_only=True, help_text="Items waiting now.")
    longest_wait_seconds = serializers.IntegerField(
        read_only=True, help_text="How long the oldest waiting item has waited; 0 when none waits."
    )
    offered = serializers.IntegerField(read_only=True, help_text="Items offered to an agent now.")
    assigned = serializers.IntegerField(read_only=True, help_text="Items assigned to an agent now.")
    agents_online = serializers.IntegerField(
        read_only=True, help_text="Online agents who can serve the queue's items."
    )
    agents_at_capacity = serializers.IntegerField(
        read_only=True, help_text="Of those, agents with no room on the channel of the queue's items."
    )
    service_level_today = serializers.FloatField(
        read_only=True, allow_null=True,
        help_text="Share (0-1) of today's items that reached an agent within the target wait, over "
        "those that reached one or waited past the target; null when there are none.",
    )
    breached_today = serializers.IntegerField(
        read_only=True, help_text="Items enqueued today that waited past the target."
    )
    answer_seconds_today = serializers.FloatField(
        read_only=True, allow_null=True,
        help_text="Average speed of answer: the mean wait from enqueued to first answered of today's "
        "answered items; null when none was answered.",
    )
    abandoned_today = serializers.IntegerField(
        read_only=True, help_text="Items enqueued today cancelled before anyone answered them (the customer "
        "left, the caller hung up), those within 5 seconds left out.",
    )
    abandonment_today = serializers.FloatField(
        read_only=True, allow_null=True,
        help_text="Share (0-1) of today's items whose wait ended (answered, or closed unanswered; short "
        "abandons left out) that were abandoned; null when none has ended.",
    )
