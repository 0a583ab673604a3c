"""The customer chat widget's HTTP endpoints, mounted under /widget/."""

from django.urls import path

from conversations import widget_self_service_views, widget_views

app_name = "widget"

urlpatterns = [
    path("session", widget_views.session_start, name="session"),
    path("frame/", widget_views.frame, name="frame"),
    path("demo/", widget_views.demo, name="demo"),
    # Self-service before a chat (conversations/widget_self_service_views.py).
    path("self-service", widget_self_service_views.overview, name="self_service"),
    path("self-service/answer", widget_self_service_views.answer, name="self_service_answer"),
    path("self-service/ask", widget_self_service_views.ask, name="self_service_ask"),
    path("self-service/agent", widget_self_service_views.agent, name="self_service_agent"),
]
