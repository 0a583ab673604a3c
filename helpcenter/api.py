"""The help center's API for the agent workspace: articles in the customer's language, to
link in a reply. Agents and supervisors only (helpcenter.access)."""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from helpcenter import search, selectors
from helpcenter.access import MaySearchFromDesk
from helpcenter.markdown import plain_text, summary_of
from supportdesk.errors import DomainError

_REASON_KEY = re.compile(r"[-a-zA-Z0-9_]{1,64}")
RESULT = inline_serializer("HelpArticleResults", fields={
    "language": serializers.CharField(),
    "results": serializers.ListField(child=inline_serializer("HelpArticleResult", fields={
        "title": serializers.CharField(), "url": serializers.URLField(), "snippet": serializers.CharField(),
        "key": serializers.CharField(help_text="The article's key, the same in every language."),
    })),
})


class ArticleSearchView(APIView):
    permission_classes = [MaySearchFromDesk]

    @extend_schema(
        summary="Help center: published articles in a language, best match first",
        description="By words (`q`, full-text or trigram matching, typos and accents forgiven), or "
                    "the articles linked to a contact reason (`contact_reason`).",
        parameters=[
            OpenApiParameter("q", str, description="What to look for (2 to 100 characters)."),
            OpenApiParameter("language", str, required=True, description="The customer's language, e.g. es."),
            OpenApiParameter("contact_reason", str, description="A contact reason's key, instead of q."),
            OpenApiParameter("limit", int, description="At most this many (1-50, default 10)."),
        ],
        responses={200: RESULT}, tags=["help center"])
    def get(self, request: Request) -> Response:
        params = request.query_params
        language = search.language_check(params.get("language", ""))
        try:
            limit = int(params.get("limit", 10))
        except ValueError:
            limit = 10
        reason = params.get("contact_reason", "")
        if reason and not _REASON_KEY.fullmatch(reason):
            raise DomainError(str(_("Unknown contact reason %(reason)r.")) % {"reason": reason},
                              code="unknown_contact_reason")
        if reason and not params.get("q"):
            versions = selectors.articles_for_reason(reason_key=reason, language=language,
                                                     limit=max(1, min(limit, search.MAX_LIMIT)))
            results = [{"title": version.title, "key": version.article.key,
                        "url": selectors.version_link(language=language, slug=version.slug,
                                                      category_slug=version.article.category.slug),
                        "snippet": version.summary or summary_of(plain_text(version.body_html))}
                       for version in versions]
        else:
            hits = search.article_search(query=params.get("q", ""), language=language, limit=limit)
            results = [{"title": hit.title, "key": hit.article_key, "snippet": hit.snippet,
                        "url": selectors.version_link(language=language, category_slug=hit.category_slug,
                                                      slug=hit.slug)}
                       for hit in hits]
        return Response({"language": language, "results": results})
