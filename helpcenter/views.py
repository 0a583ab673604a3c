"""The public help center's pages: thin adapters over helpcenter.selectors, .search and
.services; which version is public is helpcenter.access's call. Each page is rendered in
the reader's language (the frame's words from the gettext catalogues)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from helpcenter import access, search, selectors, services
from helpcenter.languages import HELP_LANGUAGES, language_name
from supportdesk import ratelimit
from supportdesk.errors import DomainError, NotFound
from supportdesk.languages import direction

# A visitor session answers each article once; an address may answer this often at most.
VOTE_RATE = ratelimit.Rate(30, 60)


def in_reader_language(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Everything the view says (the page's frame, its errors) in the language of the address,
    English for a language the help center does not have."""

    @wraps(view)
    def wrapped(request: HttpRequest, language: str, *args: Any, **kwargs: Any) -> HttpResponse:
        with translation.override(language if language in HELP_LANGUAGES else "en"):
            return view(request, language, *args, **kwargs)

    return wrapped


def _page(request: HttpRequest, language: str, template: str, context: dict[str, Any],
          status: int = 200) -> HttpResponse:
    return render(request, template, {
        "language": language, "language_name": language_name(language), "direction": direction(language),
        "languages": [(code, language_name(code)) for code in HELP_LANGUAGES], **context,
    }, status=status)


def _not_found(request: HttpRequest, language: str, error: DomainError) -> HttpResponse:
    """A clear page that says what was not found and leads back to the help center."""
    home_language = language if language in HELP_LANGUAGES else "en"
    return _page(request, home_language, "helpcenter/not_found.html",
                 {"message": error.message, "unknown_language": language not in HELP_LANGUAGES}, status=404)


@require_GET
def help_root(request: HttpRequest) -> HttpResponse:
    """/help/: the reader's browser language when the help center has it, English otherwise."""
    preferred = translation.get_language_from_request(request).split("-")[0]
    return HttpResponseRedirect(f"/help/{preferred if preferred in HELP_LANGUAGES else 'en'}/")


@require_GET
@in_reader_language
def help_home(request: HttpRequest, language: str) -> HttpResponse:
    try:
        categories = selectors.categories_listed(language=language)
    except NotFound as error:
        return _not_found(request, language, error)
    return _page(request, language, "helpcenter/home.html", {"categories": categories})


@require_GET
@in_reader_language
def help_category(request: HttpRequest, language: str, category_slug: str) -> HttpResponse:
    try:
        category, name = selectors.category_public(language=language, slug=category_slug)
    except NotFound as error:
        return _not_found(request, language, error)
    articles = selectors.category_articles(category=category, language=language)
    return _page(request, language, "helpcenter/category.html",
                 {"category": category, "category_name": name, "articles": articles})


@require_GET
@in_reader_language
def help_article(request: HttpRequest, language: str, category_slug: str, slug: str) -> HttpResponse:
    try:
        version = access.version_public(language=language, category_slug=category_slug, slug=slug)
    except NotFound as error:
        return _not_found(request, language, error)
    if "voted" not in request.GET:  # the page shown again after a vote is not another view
        services.version_view_count(version_id=version.pk)
    return _page(request, language, "helpcenter/article.html", {
        "version": version, "category": version.article.category,
        "category_name": selectors.category_name(category_id=version.article.category_id, language=language),
        "alternates": [(code, path, language_name(code))
                       for code, path in selectors.version_alternates(version=version)],
        "voted": request.GET.get("voted", ""),
    })


@require_POST
@in_reader_language
def help_article_helpful(request: HttpRequest, language: str, category_slug: str, slug: str) -> HttpResponse:
    """"Was this helpful?" answered by a plain form (no JS needed): once per visitor session,
    then back to the article with a thank-you."""
    try:
        version = access.version_public(language=language, category_slug=category_slug, slug=slug)
    except NotFound as error:
        return _not_found(request, language, error)
    answer = request.POST.get("helpful", "")
    if answer not in ("yes", "no"):
        return HttpResponse(_("Answer yes or no."), status=400, content_type="text/plain; charset=utf-8")
    wait = ratelimit.hit({f"help-vote:ip:{request.META.get('REMOTE_ADDR', 'unknown')}": VOTE_RATE})
    if wait:
        response = HttpResponse(_("Too many answers from your address; try again in a minute."),
                                status=429, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(int(wait) + 1)
        return response
    if not request.session.session_key:
        request.session["help_reader"] = True
        request.session.save()
    services.helpful_vote_record(version_id=version.pk, session_key=request.session.session_key,
                                 helpful=answer == "yes")
    return HttpResponseRedirect(f"/help/{language}/{category_slug}/{slug}/?voted={answer}#helpful", status=303)


@require_GET
@in_reader_language
def help_search(request: HttpRequest, language: str) -> HttpResponse:
    try:
        access.language_public(language)
    except NotFound as error:
        return _not_found(request, language, error)
    query, hits, error = request.GET.get("q", ""), [], ""
    if query.strip():
        try:
            hits = search.article_search(query=query, language=language, limit=20)
        except DomainError as problem:
            error = problem.message
    return _page(request, language, "helpcenter/search.html", {"query": query, "hits": hits, "error": error},
                 status=400 if error else 200)
