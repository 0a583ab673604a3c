"""REST API: satisfaction ratings (answered surveys), filtered; read-only.

Access through workflows.access: supervisors see every rating, agents the ratings of the
conversations they answered.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets

from conversations.models import Channel
from supportdesk.access import IsDeskUser
from supportdesk.api import DateTimeRangeFilter, DefaultCursorPagination, FilterSet, IdFilter
from timeline.models import ContactKind
from workflows import access
from workflows.surveys.models import SURVEY_CHANNELS, Survey


class RatingFilter(FilterSet):
    agent = IdFilter(field_name="agent_id", help_text="The user id of the agent who had the conversation.")
    queue = filters.CharFilter(field_name="queue_key", help_text="The queue's key, e.g. chat.es.")
    language = filters.CharFilter(field_name="language", help_text="The conversation's language, e.g. es.")
    contact_kind = filters.ChoiceFilter(field_name="contact__kind", choices=ContactKind.choices)
    channel = filters.ChoiceFilter(field_name="channel",
                                   choices=[(v, label) for v, label in Channel.choices if v in SURVEY_CHANNELS])
    score = filters.NumberFilter(field_name="score")
    conversation = IdFilter(field_name="conversation_id")
    contact = IdFilter(field_name="contact_id")
    rated = DateTimeRangeFilter(field_name="rated_at",
                                help_text="rated_after / rated_before: ISO 8601, both ends included.")

    class Meta:
        model = Survey
        fields = ["agent", "queue", "language", "contact_kind", "channel", "score", "conversation", "contact",
                  "rated"]


class RatingSerializer(serializers.ModelSerializer):
    survey = serializers.IntegerField(source="pk", read_only=True)
    contact_kind = serializers.CharField(source="contact.kind", read_only=True)
    queue = serializers.CharField(source="queue_key", read_only=True)

    class Meta:
        model = Survey
        fields = ["survey", "conversation", "contact", "contact_kind", "channel", "queue", "agent", "language",
                  "score", "comment", "rated_at", "changed_at", "sent_at"]
        read_only_fields = fields


class RatingPagination(DefaultCursorPagination):
    ordering = ("-rated_at", "-id")


@extend_schema_view(
    list=extend_schema(summary="List satisfaction ratings",
                       description="Newest first, by cursor. Agents see the ratings of their own conversations."),
    retrieve=extend_schema(summary="Get a satisfaction rating"),
)
class RatingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [IsDeskUser]
    serializer_class = RatingSerializer
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = RatingFilter
    pagination_class = RatingPagination
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Survey]:
        return access.ratings_visible(self.request.user).select_related("contact")
