"""Writes of the help center: saving a version (rendered, indexed for search, audited),
readers' votes and views."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Model
from django.forms.models import model_to_dict
from django.utils import timezone

from conversations import deflection, widget
from helpcenter.languages import text_search_config
from helpcenter.markdown import markdown_render, plain_text
from helpcenter.models import ArticleVersion, HelpAudit, HelpfulVote, SearchWord, VersionStatus

# The search columns, as helpcenter.search reads them and migration 0001 indexes them: the
# title (and summary) lower-cased and unaccented for trigram matching; the vector of the title
# (weight A) and the summary and body (B) in the language's configuration, unaccented too.
_SEARCH_UPDATE = f"""
UPDATE {ArticleVersion._meta.db_table} SET
    search_text = lower(public.sd_unaccent(%(title)s || ' ' || %(summary)s)),
    search_vector = setweight(to_tsvector(%(config)s::regconfig, public.sd_unaccent(%(title)s)), 'A')
                 || setweight(to_tsvector(%(config)s::regconfig, public.sd_unaccent(%(text)s)), 'B')
WHERE id = %(id)s
"""


def version_search_update(*, version: ArticleVersion) -> None:
    """Recompute the version's search columns from its title, summary and rendered body."""
    with connection.cursor() as cursor:
        cursor.execute(_SEARCH_UPDATE, {
            "id": version.pk, "title": version.title, "summary": version.summary,
            "text": f"{version.summary} {plain_text(version.body_html)}",
            "config": text_search_config(version.language)})


# The words of published versions, as a search compares what is typed: lower-cased,
# unaccented, letters-and-digits runs of 3 to 40 (shorter ones are not corrected, longer ones
# are not words). From the title, summary and the Markdown source (its syntax is punctuation).
_WORDS_INSERT = f"""
INSERT INTO {SearchWord._meta.db_table} (language, word)
SELECT DISTINCT v.language, m[1]
  FROM {ArticleVersion._meta.db_table} v,
       regexp_matches(lower(public.sd_unaccent(v.title || ' ' || v.summary || ' ' || v.body)),
                      '([[:alnum:]]{{3,40}})', 'g') AS m
 WHERE v.status = %(published)s AND (%(all)s OR v.id = ANY(%(ids)s))
ON CONFLICT DO NOTHING
"""


def search_words_add(*, version_ids: list[int] | None = None) -> int:
    """Add the words of these published versions (of all of them when None) to the words a
    search corrects to; the number of new words."""
    with connection.cursor() as cursor:
        cursor.execute(_WORDS_INSERT, {"published": VersionStatus.PUBLISHED, "all": version_ids is None,
                                       "ids": list(version_ids or [])})
        return cursor.rowcount


def search_words_rebuild() -> int:
    """The words again from the published versions only (an unpublished or rewritten
    version's words leave); the number of words."""
    with transaction.atomic():
        SearchWord.objects.all().delete()
        return search_words_add()


def article_version_save(*, version: ArticleVersion, actor: Any = None) -> ArticleVersion:
    """Save a version as written in the admin: render its body, keep its publication time,
    refresh its search columns, and audit the change, all in one transaction."""
    version.body_html = markdown_render(version.body)
    if version.status == VersionStatus.PUBLISHED and version.published_at is None:
        version.published_at = timezone.now()
    if version.status == VersionStatus.DRAFT:
        version.published_at = None
    with transaction.atomic():
        before = None
        if version.pk:
            previous = ArticleVersion.objects.filter(pk=version.pk).first()
            before = _snapshot(previous) if previous else None
        version.save()
        version_search_update(version=version)
        if version.status == VersionStatus.PUBLISHED:
            search_words_add(version_ids=[version.pk])
        audit_record(actor=actor, obj=version, before=before, after=_snapshot(version))
    return version


def _snapshot(obj: Model) -> dict[str, Any]:
    data = model_to_dict(obj)
    return {key: (value if isinstance(value, (str, int, float, bool, type(None))) else str(value))
            for key, value in data.items()}


def audit_record(*, actor: Any, obj: Model, before: dict[str, Any] | None,
                 after: dict[str, Any] | None) -> HelpAudit | None:
    """One audit row for an edit (nothing when nothing changed)."""
    if before is not None and after is not None and before == after:
        return None
    action = "created" if before is None else "deleted" if after is None else "changed"
    signed_in = actor is not None and getattr(actor, "is_authenticated", False)
    return HelpAudit.objects.create(
        actor=actor if signed_in else None, actor_label=actor.get_username() if signed_in else "",
        action=action, model=obj._meta.label_lower, object_id=str(obj.pk), object_repr=str(obj)[:200],
        before=before, after=after)


def model_snapshot(obj: Model) -> dict[str, Any]:
    """What the audit keeps of an object (the admin audits categories and articles with it)."""
    return _snapshot(obj)


def helpful_vote_record(*, version_id: int, session_key: str, helpful: bool) -> bool:
    """Record a reader's answer, once per session: answering again changes the answer, it
    does not add one. True when this changed anything."""
    try:
        with transaction.atomic():
            vote, created = HelpfulVote.objects.get_or_create(
                version_id=version_id, session_key=session_key, defaults={"helpful": helpful})
    except IntegrityError:  # the same session's answer arrived twice at once
        vote, created = HelpfulVote.objects.get(version_id=version_id, session_key=session_key), False
    if created:
        return True
    if vote.helpful == helpful:
        return False
    HelpfulVote.objects.filter(pk=vote.pk).update(helpful=helpful, at=timezone.now())
    return True


def version_view_count(*, version_id: int) -> None:
    """One more view: a single UPDATE, no read (a hot article's rows lock only for an instant)."""
    ArticleVersion.objects.filter(pk=version_id).update(views=F("views") + 1)




def widget_read_record(*, session: widget.Session, version: ArticleVersion, query: str = "",
                       answered: bool = False) -> bool:
    """A widget visitor opened a published version (and, with `answered`, said it answered
    their question): a self-service answer (conversations.deflection), with the title, address
    and language the help center has for it. True when recorded (not while a chat is going)."""
    details = {"title": version.title, "language": version.language, "query": query,
               "url": f"/help/{version.language}/{version.article.category.slug}/{version.slug}/"}
    with transaction.atomic():
        recorded = deflection.deflection_answered(session, deflection.ARTICLE_READ, str(version.pk),
                                                  **details)
        if answered and recorded is not None:
            deflection.deflection_answered(session, deflection.ARTICLE_ANSWERED, str(version.pk), **details)
    return recorded is not None
