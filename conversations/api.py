"""REST API v1 for conversations and their messages: adapters over the conversation services.

Who may do what is conversations.access, the same rule the desk and the sockets ask: an
agent sees only what the desk shows them, a supervisor everything, an integration writes
the contact's messages. Accepting and transferring a work item are served here (on
routing's URLs) because they are the conversation's use cases as much as routing's.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.functional import cached_property
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from conversations import access, selectors, services, waiting
from conversations.filters import ConversationFilter
from conversations.models import Conversation, Message, MessageDirection
from conversations.serializers import (
    ConversationCreateInputSerializer,
    ConversationSerializer,
    ConversationUpdateInputSerializer,
    MessageCreateInputSerializer,
    MessageSerializer,
    SuggestionsSerializer,
)
from routing import api as routing_api
from routing.access import IsAgent, access_work_item
from routing.models import WorkItem
from routing.serializers import DeclineInputSerializer, TransferInputSerializer, WorkItemSerializer
from supportdesk.access import IsDeskUser, IsDeskUserOrIntegration
from supportdesk.api import DefaultCursorPagination


def _permissions(action: str | None) -> list[BasePermission]:
    """Opening a conversation and writing in one are for the desk and integrations (which
    refine it per message direction); every read and change is for the desk only."""
    return [IsDeskUserOrIntegration() if action == "create" else IsDeskUser()]


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
    lookup_value_regex = r"\d+"  # anything else is no conversation: a 404, never int()'s error

    def get_permissions(self) -> list[BasePermission]:
        return _permissions(self.action)

    def get_queryset(self) -> QuerySet[Conversation]:
        return selectors.conversation_list(visible_to=self.request.user)

    def get_object(self) -> Conversation:
        # The access module decides: not found and not yours are the same 404.
        return access.access_conversation(user=self.request.user, conversation_id=int(self.kwargs["pk"]),
                                          act=self.action == "partial_update")

    @extend_schema(
        summary="Open a conversation",
        request=ConversationCreateInputSerializer,
        responses={status.HTTP_201_CREATED: ConversationSerializer, status.HTTP_200_OK: ConversationSerializer},
    )
    def create(self, request: Request) -> Response:
        serializer = ConversationCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        conversation = services.conversation_open(
            **serializer.validated_data, opened_by=request.user
        )
        return Response(ConversationSerializer(conversation).data,
                        status=status.HTTP_200_OK if conversation.replayed else status.HTTP_201_CREATED)

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

    @extend_schema(
        summary="Suggested replies: the macros or help-center articles most likely to be used next",
        description="At most three, most likely first, in the conversation's language, learnt from the "
        "desk's own history; none before the first training (`model` null).",
        responses={status.HTTP_200_OK: SuggestionsSerializer},
    )
    @action(detail=True, methods=["get"])
    def suggestions(self, request: Request, pk: str) -> Response:
        from conversations.suggestions.serving import suggestions_for  # scikit-learn: only where it runs

        conversation = self.get_object()
        suggested = suggestions_for(conversation=conversation, agent=request.user)
        return Response(SuggestionsSerializer({"conversation": conversation.pk, **vars(suggested)}).data)


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

    def get_permissions(self) -> list[BasePermission]:
        return _permissions(self.action)

    @cached_property
    def conversation(self) -> Conversation:
        return access.access_conversation(user=self.request.user,
                                          conversation_id=int(self.kwargs["conversation_id"]))

    def get_queryset(self) -> QuerySet[Message]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no URL kwargs
            return Message.objects.none()
        return selectors.message_list(conversation=self.conversation,
                                      notes=access.may_see_notes(self.request.user))

    @extend_schema(
        summary="Add a message to a conversation",
        description="Replies (`out`) and notes are written as the caller; inbound messages "
        "(`in`, posted by integrations) as the contact.",
        request=MessageCreateInputSerializer,
        responses={status.HTTP_201_CREATED: MessageSerializer, status.HTTP_200_OK: MessageSerializer},
    )
    def create(self, request: Request, conversation_id: str) -> Response:
        serializer = MessageCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        direction, body = serializer.validated_data["direction"], serializer.validated_data["body"]
        conversation = access.check_message_post(user=request.user, conversation_id=int(conversation_id),
                                                 direction=direction)
        # The same use cases the desk calls, so a reply through the API assigns and marks read,
        # and a note reaches the contact's timeline, exactly as one from the workspace.
        # A retry with the same client id gets the first message back (200), never a second one.
        client_id = serializer.validated_data.get("client_id", "")
        if direction == MessageDirection.OUTBOUND:
            message = services.agent_reply(conversation_id=conversation.pk, user=request.user, body=body,
                                           client_id=client_id,
                                           inserted=serializer.validated_data.get("inserted"))
        elif direction == MessageDirection.NOTE:
            message = services.note_add(conversation_id=conversation.pk, user=request.user, body=body,
                                        client_id=client_id)
        else:
            message = services.message_create(
                conversation=conversation, direction=direction, body=body,
                channel_metadata=serializer.validated_data.get("channel_metadata"), client_id=client_id,
            )
        return Response(MessageSerializer(message).data,
                        status=status.HTTP_200_OK if message.replayed else status.HTTP_201_CREATED)


class WorkItemViewSet(routing_api.WorkItemViewSet):
    """Routing's work items, with accept, decline and transfer taking the desk's one path: the
    conversation is assigned, the contact's timeline records it, the widget and the agents
    hear of it (a declined chat left waiting: the customer is told, conversations.waiting)."""

    @extend_schema(summary="Accept an offer made to me",
                   description="The item, and its conversation, are assigned to me.",
                   parameters=[routing_api.ITEM_ID], request=None, responses=WorkItemSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsAgent])
    def accept(self, request: Request, pk: str) -> Response:
        services.offer_accept(item_id=int(pk), user=request.user)
        return Response(WorkItemSerializer(WorkItem.objects.get(pk=int(pk))).data)

    @extend_schema(
        summary="Decline an offer made to me",
        description="The item goes to the next eligible agent, never back to me; a chat nobody takes "
        "at once waits, and its customer is told so in the widget.",
        parameters=[routing_api.ITEM_ID], request=DeclineInputSerializer, responses=WorkItemSerializer,
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAgent])
    def decline(self, request: Request, pk: str) -> Response:
        serializer = DeclineInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        item = waiting.offer_decline(item_id=int(pk), user=request.user, **serializer.validated_data)
        return Response(WorkItemSerializer(item).data)

    @extend_schema(
        summary="Transfer an open item to a queue or an agent",
        description="Give exactly one of `queue` (it waits there and is matched again) or `agent` "
        "(assigned directly; the agent must be online with room). The agent the item is assigned "
        "to may transfer it; a supervisor may transfer any open item.",
        parameters=[routing_api.ITEM_ID], request=TransferInputSerializer, responses=WorkItemSerializer,
    )
    @action(detail=True, methods=["post"], permission_classes=[IsDeskUser])
    def transfer(self, request: Request, pk: str) -> Response:
        serializer = TransferInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        item = access_work_item(user=request.user, item_id=int(pk))
        item = services.conversation_transfer(
            conversation_id=item.conversation_id, user=request.user,
            queue_key=serializer.validated_data.get("queue"), agent_id=serializer.validated_data.get("agent"),
        )
        return Response(WorkItemSerializer(item).data)
