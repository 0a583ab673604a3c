"""The help center's articles for the agents' suggested replies (conversations.suggestions):
a source registered from the app's ready(), since conversations may not import the help center."""

from __future__ import annotations

from collections.abc import Sequence

from conversations.suggestions.articles import ArticleChoice, article_source_register
from helpcenter.models import Article
from helpcenter.selectors import articles_published_in, version_link


class HelpCenterArticles:
    def articles_resolve(self, *, keys: Sequence[str], language: str) -> dict[str, ArticleChoice]:
        return {version.article.key: ArticleChoice(
                    key=version.article.key, title=version.title,
                    url=version_link(language=language, category_slug=version.article.category.slug,
                                     slug=version.slug))
                for version in articles_published_in(keys=list(keys), language=language)}

    def articles_known(self, *, keys: Sequence[str]) -> set[str]:
        return set(Article.objects.filter(key__in=list(keys)).values_list("key", flat=True))


def suggestions_source_register() -> None:
    """From the app's ready()."""
    article_source_register(name="helpcenter", source=HelpCenterArticles())
