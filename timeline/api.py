from rest_framework import viewsets


class ContactViewSet(viewsets.GenericViewSet):
    pass


class OrderViewSet(viewsets.GenericViewSet):
    pass
