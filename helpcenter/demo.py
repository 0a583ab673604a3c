"""The help center's part of the demo: a step the seeding runs (supportdesk.seeding),
registered from the app's ready(), so the core's demo never imports the help center.
Idempotent: what exists is left as it is (a supervisor may have edited it)."""

from __future__ import annotations

from collections.abc import Callable

from conversations.models import ContactReason
from helpcenter.demo_content import ARTICLES, CATEGORIES
from helpcenter.models import Article, ArticleVersion, Category, CategoryName, VersionStatus
from helpcenter.services import article_version_save
from supportdesk.seeding import StepProgress, step_register


def demo_help_center(*, wrote: bool = True, on_progress: Callable[[StepProgress], None] | None = None) -> str:
    """Create the demo's categories, articles and versions that are missing; the outcome."""
    created = 0
    for position, (slug, names) in enumerate(CATEGORIES.items()):
        category, _ = Category.objects.get_or_create(slug=slug, defaults={"position": position})
        for language, (name, description) in names.items():
            CategoryName.objects.get_or_create(category=category, language=language,
                                               defaults={"name": name, "description": description})
    for position, (key, (category_slug, reasons, versions)) in enumerate(ARTICLES.items()):
        article, _ = Article.objects.get_or_create(
            key=key, defaults={"category": Category.objects.get(slug=category_slug), "position": position})
        article.contact_reasons.add(*ContactReason.objects.filter(key__in=reasons))
        for language, (slug, title, body) in versions.items():
            if ArticleVersion.objects.filter(article=article, language=language).exists():
                continue
            article_version_save(version=ArticleVersion(
                article=article, language=language, slug=slug, title=title, body=body,
                status=VersionStatus.PUBLISHED))
            created += 1
    if not created:
        return "Help center: its articles were there (/help/)."
    return f"Help center: {created} article versions written (/help/en/, /help/es/, /help/ka/, /help/ko/)."


def demo_step_register() -> None:
    """From the app's ready()."""
    step_register(name="helpcenter", step=demo_help_center)
