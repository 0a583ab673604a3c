from django.urls import path

from integrations.voice import views

urlpatterns = [
    path("incoming/", views.incoming, name="voice-incoming"),
    path("language/", views.language, name="voice-language"),
    path("wait/", views.wait, name="voice-wait"),
    path("callback/", views.callback, name="voice-callback"),
    path("queue-result/", views.queue_result, name="voice-queue-result"),
    path("status/", views.status, name="voice-status"),
    path("agent-status/", views.agent_status, name="voice-agent-status"),
    path("recording/", views.recording, name="voice-recording"),
]
