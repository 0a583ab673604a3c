"""The help center: categories and articles, each with a version per language.

An article is the language-independent thing (its category, its place, the contact reasons
it answers); a version is what a reader reads in one language, draft or published, with its
own slug so its URL reads in that language. The search columns of a version
(`search_vector`, `search_text`) are maintained by `helpcenter.services` from its title and
body whenever it is saved; the indexes on them are in migration 0001. The words of the
published versions (`SearchWord`) are what a misspelt word typed in a search is corrected to.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from conversations.models import ContactReason
from helpcenter.languages import LANGUAGE_CHOICES


def category_slug_validate(slug: str) -> None:
    """/help/<language>/search/ is the search page: a category cannot take its address."""
    if slug in RESERVED_CATEGORY_SLUGS:
        raise ValidationError(_("“%(slug)s” is the address of the search page; choose another."),
                              params={"slug": slug})


RESERVED_CATEGORY_SLUGS = frozenset({"search"})


class Category(models.Model):
    slug = models.SlugField(max_length=80, unique=True, validators=[category_slug_validate],
                            help_text=_("In the URL: /help/<language>/<slug>/"))
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "slug"]
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.slug


class CategoryName(models.Model):
    """A category's name and description in one language."""

    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="names")
    language = models.CharField(max_length=8, choices=LANGUAGE_CHOICES)
    name = models.CharField(max_length=120)
    description = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["category", "language"], name="category_name_language")]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


class Article(models.Model):
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="articles")
    key = models.SlugField(max_length=80, unique=True, help_text=_("Internal name, the same in every language"))
    position = models.PositiveIntegerField(default=0)
    # Owned by the help center: the contact reasons an article answers (agents are offered it).
    contact_reasons = models.ManyToManyField(ContactReason, blank=True, related_name="help_articles")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "key"]

    def __str__(self) -> str:
        return self.key


class VersionStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")


class ArticleVersion(models.Model):
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="versions")
    language = models.CharField(max_length=8, choices=LANGUAGE_CHOICES)
    slug = models.SlugField(max_length=120, allow_unicode=True)
    title = models.CharField(max_length=200)
    summary = models.CharField(max_length=300, blank=True,
                               help_text=_("The search engines' description; the body's start when empty."))
    body = models.TextField(help_text=_("Markdown. Raw HTML is not allowed."))
    body_html = models.TextField(editable=False, default="")  # rendered and sanitised on save
    status = models.CharField(max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    views = models.BigIntegerField(default=0, editable=False)
    # Maintained by helpcenter.services (see the module's docstring): the vector of the whole text,
    # and the title and summary, lower-cased and unaccented, for trigram matching (typos).
    search_vector = SearchVectorField(null=True, editable=False)
    search_text = models.TextField(default="", editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["article", "language"], name="article_version_language"),
            models.UniqueConstraint(fields=["language", "slug"], name="article_version_slug"),
        ]
        indexes = [
            models.Index(fields=["language", "status"], name="article_version_public"),
            GinIndex(fields=["search_vector"], name="article_version_fts"),
            GinIndex(fields=["search_text"], opclasses=["gin_trgm_ops"], name="article_version_trgm"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.language})"


class SearchWord(models.Model):
    """A word of the published articles in one language, lower-cased and unaccented: what a
    search corrects a misspelt word to ("refnud" -> "refund"; helpcenter.search). Added when a
    version is published (helpcenter.services.search_words_add); `help_search_words` rebuilds
    them from the published versions only.

    The word is in the "C" collation, where byte order is code-point order, so the words a
    prefix begins are one range of the unique index."""

    language = models.CharField(max_length=8)
    word = models.TextField(db_collation="C")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["language", "word"], name="help_search_word")]

    def __str__(self) -> str:
        return f"{self.word} ({self.language})"


class HelpfulVote(models.Model):
    """One reader's answer to "Was this helpful?", one per version and visitor session."""

    version = models.ForeignKey(ArticleVersion, on_delete=models.CASCADE, related_name="votes")
    session_key = models.CharField(max_length=64)
    helpful = models.BooleanField()
    at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "session_key"], name="helpful_vote_once")]

    def __str__(self) -> str:
        return f"{'yes' if self.helpful else 'no'} on {self.version_id}"


class HelpAudit(models.Model):
    """Supervisors' edits of the help center, as the routing and workflow audits record theirs."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=16)  # created, changed, deleted
    model = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.action} {self.model} {self.object_repr}"
