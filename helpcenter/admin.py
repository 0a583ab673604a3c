"""Supervisors write the help center here: categories with their names per language,
articles with the contact reasons they answer, and each article's versions per language
with a preview of the rendered body. Every save goes through helpcenter.services and is
audited (HelpAudit, read-only here)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.urls import path
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from helpcenter import services
from helpcenter.access import may_write_articles
from helpcenter.markdown import markdown_render
from helpcenter.models import Article, ArticleVersion, Category, CategoryName, HelpAudit
from supportdesk.admin_access import AccessRuleAdminMixin


class SupervisorsOnly(AccessRuleAdminMixin):
    """Supervisors write the help center; every other staff account sees nothing of it."""

    access_rule = staticmethod(may_write_articles)


class AuditedAdmin(SupervisorsOnly, admin.ModelAdmin):
    """Saves and deletions audited with the before and after of the object."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = services.model_snapshot(type(obj).objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        services.audit_record(actor=request.user, obj=obj, before=before, after=services.model_snapshot(obj))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.audit_record(actor=request.user, obj=obj, before=services.model_snapshot(obj), after=None)
        super().delete_model(request, obj)


class CategoryNameInline(SupervisorsOnly, admin.TabularInline):
    model = CategoryName
    extra = 1


@admin.register(Category)
class CategoryAdmin(AuditedAdmin):
    list_display = ("slug", "position", "is_active")
    list_editable = ("position", "is_active")
    inlines = [CategoryNameInline]


@admin.register(Article)
class ArticleAdmin(AuditedAdmin):
    list_display = ("key", "category", "position", "languages")
    list_filter = ("category",)
    search_fields = ("key", "versions__title")
    filter_horizontal = ("contact_reasons",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("category").prefetch_related("versions")

    @admin.display(description=_("languages"))
    def languages(self, obj: Article) -> str:
        return ", ".join(sorted(f"{version.language}{'' if version.status == 'published' else '*'}"
                                for version in obj.versions.all()))


@admin.register(ArticleVersion)
class ArticleVersionAdmin(AuditedAdmin):
    list_display = ("title", "article", "language", "status", "views", "helpful_yes", "helpful_no", "updated_at")
    list_filter = ("status", "language", "article__category")
    search_fields = ("title", "slug", "article__key")
    prepopulated_fields = {"slug": ("title",)}
    fields = ("article", "language", "title", "slug", "summary", "body", "preview", "status", "published_at",
              "views")
    readonly_fields = ("preview", "published_at", "views")
    change_form_template = "admin/helpcenter/articleversion/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("article").annotate(
            yes=Count("votes", filter=Q(votes__helpful=True)), no=Count("votes", filter=Q(votes__helpful=False)))

    @admin.display(description=_("helpful"), ordering="yes")
    def helpful_yes(self, obj: ArticleVersion) -> int:
        return obj.yes

    @admin.display(description=_("not helpful"), ordering="no")
    def helpful_no(self, obj: ArticleVersion) -> int:
        return obj.no

    @admin.display(description=_("preview"))
    def preview(self, obj: ArticleVersion) -> str:
        """The body as readers will see it (rendered and sanitised like the public page)."""
        rendered = markdown_render(obj.body) if obj.body else ""
        return format_html('<div class="help-preview" data-testid="help-preview">{}</div>', mark_safe(rendered))

    def save_model(self, request: HttpRequest, obj: ArticleVersion, form: Any, change: bool) -> None:
        services.article_version_save(version=obj, actor=request.user)  # renders, indexes and audits

    def get_urls(self) -> list:
        return [path("preview/", self.admin_site.admin_view(self.preview_view), name="helpcenter_preview"),
                *super().get_urls()]

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """The body being typed, rendered: the change form's "Preview" button asks here."""
        return _preview(request)


@require_POST
def _preview(request: HttpRequest) -> HttpResponse:
    if not may_write_articles(request.user):
        return HttpResponseForbidden(_("Only supervisors write the help center."))
    return HttpResponse(markdown_render(request.POST.get("body", "")), content_type="text/html; charset=utf-8")


@admin.register(HelpAudit)
class HelpAuditAdmin(SupervisorsOnly, admin.ModelAdmin):
    list_display = ("at", "actor_label", "action", "model", "object_repr")
    list_filter = ("action", "model")
    readonly_fields = ("at", "actor", "actor_label", "action", "model", "object_id", "object_repr", "before",
                       "after")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
