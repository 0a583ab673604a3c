"""The reports' desk pages, included at /desk/reports/ (who may see them: reports.access)."""

from django.urls import path

from reports import desk_views, overview_page, pages

urlpatterns = [
    path("", overview_page.overview, name="reports-overview"),
    path("conversations/", desk_views.conversations, name="reports-conversations"),
    path("export/", desk_views.export, name="reports-export"),
    path("staffing/", pages.staffing, name="reports-staffing"),
]
