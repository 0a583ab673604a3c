"""The help center's API, included at /api/v1/help/."""

from django.urls import path

from helpcenter import api

urlpatterns = [
    path("articles/", api.ArticleSearchView.as_view(), name="help-articles-api"),
]
