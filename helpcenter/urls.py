"""The public help center, included at /help/."""

from django.urls import path

from helpcenter import views

urlpatterns = [
    path("", views.help_root, name="help-root"),
    path("<str:language>/", views.help_home, name="help-home"),
    path("<str:language>/search/", views.help_search, name="help-search"),
    path("<str:language>/<str:category_slug>/", views.help_category, name="help-category"),
    path("<str:language>/<str:category_slug>/<str:slug>/", views.help_article, name="help-article"),
    path("<str:language>/<str:category_slug>/<str:slug>/helpful/", views.help_article_helpful,
         name="help-article-helpful"),
]
