"""The reports API, included at /api/v1/reports/."""

from django.urls import path

from reports import api

urlpatterns = [
    path("overview/", api.ReportOverviewView.as_view(), name="reports-overview-api"),
    path("conversations/", api.ReportConversationsView.as_view(), name="reports-conversations-api"),
]
