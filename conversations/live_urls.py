"""URLs of the supervisors' live view, included under /desk/live/."""

from django.urls import path

from conversations import live

urlpatterns = [
    path("", live.live, name="desk-live"),
]
