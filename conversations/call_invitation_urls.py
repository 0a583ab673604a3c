"""The customer's call invitation page (seed 002), public: the signed link is the access."""

from django.urls import path

from conversations import call_invitations

urlpatterns = [
    path("<str:token>/", call_invitations.consent, name="call-invitation"),
]
