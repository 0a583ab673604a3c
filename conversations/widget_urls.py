"""The customer chat widget's HTTP endpoints, mounted under /widget/."""

from django.urls import path

from conversations import widget_views

app_name = "widget"

urlpatterns = [
    path("session", widget_views.session_start, name="session"),
    path("frame/", widget_views.frame, name="frame"),
    path("demo/", widget_views.demo, name="demo"),
]
