"""The public help center, included at /help/."""

from django.urls import path

from helpcenter import views, widget_views

urlpatterns = [
    path("", views.help_root, name="help-root"),
    # The chat widget's suggestions and reader (before <language>/: "api" is no language).
    path("api/suggest/", widget_views.suggest, name="help-widget-suggest"),
    path("api/articles/<str:version_id>/", widget_views.article, name="help-widget-article"),
    path("api/articles/<str:version_id>/read", widget_views.article_read, name="help-widget-read"),
    path("<str:language>/", views.help_home, name="help-home"),
    path("<str:language>/search/", views.help_search, name="help-search"),
    path("<str:language>/<str:category_slug>/", views.help_category, name="help-category"),
    path("<str:language>/<str:category_slug>/<str:slug>/", views.help_article, name="help-article"),
    path("<str:language>/<str:category_slug>/<str:slug>/helpful/", views.help_article_helpful,
         name="help-article-helpful"),
]
