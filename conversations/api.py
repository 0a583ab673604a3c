"""REST API v1 for conversations and their messages: adapters over the conversation services."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.functional import cached_property
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from conversations import selectors, services
from conversations.filters import ConversationFilter
from conversations.models import Conversation, Message, MessageDirection
from conversations.serializers import (
    ConversationCreateInputSerializer,
    ConversationSerializer,
    ConversationUpdateInputSerializer,
    MessageCreateInputSerializer,
    MessageSerializer,
)
from supportdesk.api import DefaultCursorPagination


@extend_schema_view(
    list=extend_schema(summary="List conversations", description="Newest first, by cursor."),
    retrieve=extend_schema(summary="Get a conversation"),
)
class ConversationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    # No OrderingFilter: the cursor pagination needs its own fixed, unique ordering.
    filter_backends = [DjangoFilterBackend]
    filterset_class = ConversationFilter
    serializer_class = ConversationSerializer

    def get_queryset(self) -> QuerySet[Conversation]:
        return selectors.conversation_list()

    @extend_schema(
        summary="Open a conversation",
        request=ConversationCreateInputSerializer,
        responses={status.HTTP_201_CREATED: ConversationSerializer},
    )
    def create(self, request: Request) -> Response:
        serializer = ConversationCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        conversation = services.conversation_open(
            **serializer.validated_data, opened_by=request.user
        )
        return Response(ConversationSerializer(conversation).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a conversation's status",
        request=ConversationUpdateInputSerializer,
        responses={status.HTTP_200_OK: ConversationSerializer},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        conversation = self.get_object()
        serializer = ConversationUpdateInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if "status" in serializer.validated_data:
            conversation = services.conversation_status_set(
                conversation=conversation, status=serializer.validated_data["status"],
                changed_by=request.user,
            )
        return Response(ConversationSerializer(conversation).data)


class MessagePagination(DefaultCursorPagination):
    # Sequence numbers are unique per conversation and say the order messages were sent in;
    # created_at can tie or disagree with it under concurrent senders.
    ordering = ("sequence",)


@extend_schema(
    parameters=[
        OpenApiParameter(
            "conversation_id", OpenApiTypes.INT, OpenApiParameter.PATH,
            description="The conversation's id.",
        ),
    ],
)
@extend_schema_view(
    list=extend_schema(
        summary="List a conversation's messages", description="Oldest first, by sequence."
    ),
)
class MessageViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Messages of one conversation, at /conversations/{conversation_id}/messages/."""

    queryset = Message.objects.none()  # tells the schema generator the model; see get_queryset
    serializer_class = MessageSerializer
    pagination_class = MessagePagination
    filter_backends: list = []

    @cached_property
    def conversation(self) -> Conversation:
        return selectors.conversation_get(conversation_id=int(self.kwargs["conversation_id"]))

    def get_queryset(self) -> QuerySet[Message]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no URL kwargs
            return Message.objects.none()
        return selectors.message_list(conversation=self.conversation)

    @extend_schema(
        summary="Add a message to a conversation",
        description="Replies (`out`) and notes are written as the caller; inbound messages "
        "(`in`, posted by integrations) as the contact.",
        request=MessageCreateInputSerializer,
        responses={status.HTTP_201_CREATED: MessageSerializer, status.HTTP_200_OK: MessageSerializer},
    )
    def create(self, request: Request, conversation_id: str) -> Response:
        conversation = self.conversation
        serializer = MessageCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        direction = serializer.validated_data["direction"]
        message = services.message_create(
            conversation=conversation,
            direction=direction,
            body=serializer.validated_data["body"],
            author=None if direction == MessageDirection.INBOUND else request.user,
            channel_metadata=serializer.validated_data.get("channel_metadata"),
            client_id=serializer.validated_data.get("client_id", ""),
        )
        return Response(MessageSerializer(message).data,
                        status=status.HTTP_200_OK if message.replayed else status.HTTP_201_CREATED)
