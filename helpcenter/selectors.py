"""Reads for the public pages: few queries each (a page is a handful of indexed reads)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Q
from django.utils.translation import gettext

from helpcenter.access import category_readable, language_public
from helpcenter.models import ArticleVersion, Category, CategoryName, VersionStatus
from supportdesk.errors import NotFound


@dataclass(frozen=True)
class CategoryEntry:
    slug: str
    name: str
    description: str
    article_count: int


def categories_listed(*, language: str) -> list[CategoryEntry]:
    """The active categories with a name in `language` and at least one article published in
    it, in their order: one query."""
    language_public(language)
    published_here = Q(category__articles__versions__language=language,
                       category__articles__versions__status=VersionStatus.PUBLISHED)
    names = (CategoryName.objects.filter(language=language, category__is_active=True)
             .annotate(article_count=Count("category__articles__versions", filter=published_here))
             .filter(article_count__gt=0)
             .order_by("category__position", "category__slug")
             .values_list("category__slug", "name", "description", "article_count"))
    return [CategoryEntry(*row) for row in names]


def category_public(*, language: str, slug: str) -> tuple[Category, CategoryName]:
    """An active category and its name in `language`, or NotFound."""
    language_public(language)
    category_readable(slug)
    name = (CategoryName.objects.select_related("category")
            .filter(language=language, category__slug=slug, category__is_active=True).first())
    if name is None:
        raise NotFound(gettext("There is no such category in the help center."))
    return name.category, name


def category_articles(*, category: Category, language: str) -> list[ArticleVersion]:
    """The category's published versions in `language`, in the articles' order."""
    return list(ArticleVersion.objects.filter(article__category=category, language=language,
                                              status=VersionStatus.PUBLISHED)
                .order_by("article__position", "article__key")
                .only("title", "slug", "summary", "body_html", "language"))


def category_name(*, category_id: int, language: str) -> str:
    return (CategoryName.objects.filter(category_id=category_id, language=language)
            .values_list("name", flat=True).first() or "")


def version_alternates(*, version: ArticleVersion) -> list[tuple[str, str]]:
    """(language, path) of the article's other published versions, for hreflang links."""
    category_slug = version.article.category.slug
    return [(language, f"/help/{language}/{category_slug}/{slug}/")
            for language, slug in ArticleVersion.objects.filter(
                article_id=version.article_id, status=VersionStatus.PUBLISHED)
            .exclude(pk=version.pk).order_by("language").values_list("language", "slug")]


def articles_for_reason(*, reason_key: str, language: str, limit: int = 10) -> list[ArticleVersion]:
    """Published versions in `language` of the articles linked to a contact reason."""
    return list(ArticleVersion.objects.select_related("article__category")
                .filter(language=language, status=VersionStatus.PUBLISHED,
                        article__contact_reasons__key=reason_key, article__category__is_active=True)
                .order_by("article__position", "article__key")[:limit])


def version_link(*, language: str, category_slug: str, slug: str) -> str:
    """A version's public address as the desk hands it to customers (in a reply, a suggestion):
    absolute, on the desk's public URL."""
    return f"{settings.DESK_PUBLIC_URL}/help/{language}/{category_slug}/{slug}/"


def articles_published_in(*, keys: list[str], language: str) -> list[ArticleVersion]:
    """The published versions in `language` of the articles with these keys (active categories)."""
    return list(ArticleVersion.objects.select_related("article__category")
                .filter(language=language, status=VersionStatus.PUBLISHED, article__key__in=keys,
                        article__category__is_active=True))


__all__ = ["NotFound", "version_link", "articles_published_in", "categories_listed", "category_public",
           "category_articles", "category_name", "version_alternates", "articles_for_reason"]
