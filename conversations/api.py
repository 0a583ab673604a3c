from rest_framework import viewsets


class ConversationViewSet(viewsets.GenericViewSet):
    pass


class MessageViewSet(viewsets.GenericViewSet):
    pass
