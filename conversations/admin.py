"""Admin for conversations and messages.

Conversations are opened and messages are sent from the channels and the agent workspace,
where sequence numbers, delivery to the channel and the timeline are taken care of, so
the admin does not add either, and shows messages read-only. A supervisor can still
change a conversation's status (through `conversation_status_set`, which records it on the
timeline), its assignee, priority and reason.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from django.utils.text import Truncator, format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from conversations import services
from conversations.models import MACRO_VARIABLES, ContactReason, Conversation, Macro, Message
from supportdesk.admin import BigTableAdmin, ReadOnlyAdminMixin
from supportdesk.ids import id_from_text


def _with_id_search(
    queryset: models.QuerySet, results: models.QuerySet, search_term: str, *, field: str
) -> models.QuerySet:
    """Also find by number ("123" or "#123"), which the text search cannot do with an index."""
    term = search_term.strip().removeprefix("#")
    if (number := id_from_text(term)) is not None:
        return results | queryset.filter(**{field: number})
    return results


class MessageInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Message
    fields = ("sequence", "direction", "author_user", "body", "channel_metadata", "created_at")
    readonly_fields = fields
    ordering = ("sequence",)
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        return super().get_queryset(request).select_related("author_user")


@admin.register(Conversation)
class ConversationAdmin(BigTableAdmin):
    list_display = (
        "id", "contact", "channel", "status", "priority", "language", "contact_reason",
        "assignee", "last_message_at", "created_at",
    )
    list_select_related = ("contact", "assignee")
    list_filter = ("status", "channel", "priority")
    search_fields = ("contact__external_id__exact",)
    search_help_text = _("Conversation number, or exact external id of the contact.")
    autocomplete_fields = ("assignee",)
    fields = (
        "contact", "channel", "status", "priority", "language", "contact_reason", "subject",
        "assignee", "last_message_sequence", "last_message_at", "first_response_at",
        "resolved_at", "contact_ended_at", "created_at", "updated_at",
    )
    readonly_fields = (
        "contact", "channel", "last_message_sequence", "last_message_at", "first_response_at",
        "resolved_at", "contact_ended_at", "created_at", "updated_at",
    )
    inlines = (MessageInline,)

    def get_search_results(
        self, request: HttpRequest, queryset: models.QuerySet, search_term: str
    ) -> tuple[models.QuerySet, bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return _with_id_search(queryset, results, search_term, field="pk"), may_have_duplicates

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The timeline keeps pointing at conversations; removing a contact's data is a
        # job for a service that removes all of it.
        return False

    def save_model(self, request: HttpRequest, obj: Conversation, form, change: bool) -> None:
        # Save only what the form changed: a full save would write back the message counter
        # as it was when the page loaded, and a message sent meanwhile would be forgotten.
        others = [name for name in form.changed_data if name != "status"]
        if others:
            obj.save(update_fields=[*others, "updated_at"])
        if "status" in form.changed_data:
            new_status = obj.status
            obj.status = form.initial["status"]
            services.conversation_status_set(
                conversation=obj, status=new_status, changed_by=request.user
            )


@admin.register(Message)
class MessageAdmin(ReadOnlyAdminMixin, BigTableAdmin):
    """Read-only: a message is a record of what was said on a channel."""

    list_display = ("id", "conversation", "sequence", "direction", "author_user", "excerpt",
                    "created_at")
    list_select_related = ("conversation__contact", "author_user")
    list_filter = ("direction",)
    search_fields = ("conversation__contact__external_id__exact",)
    search_help_text = _("Conversation number, or exact external id of the contact.")
    fields = ("conversation", "sequence", "direction", "author_user", "body",
              "channel_metadata", "created_at")
    readonly_fields = fields

    @admin.display(description=_("body"))
    def excerpt(self, obj: Message) -> str:
        return Truncator(obj.body).chars(80)

    def get_search_results(
        self, request: HttpRequest, queryset: models.QuerySet, search_term: str
    ) -> tuple[models.QuerySet, bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        results = _with_id_search(queryset, results, search_term, field="conversation_id")
        return results, may_have_duplicates


# Anything between double braces, so that a typo such as {{ contact.First_name }} or
# {{contact}} is caught here rather than sent to a customer as written.
_MACRO_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


class MacroForm(forms.ModelForm):
    class Meta:
        model = Macro
        fields = ("shortcut", "title", "language", "body", "is_active")
        help_texts = {"body": format_lazy(
            _("The agent types #shortcut in the composer to put this text in. Variables, filled in for the "
              "conversation at hand: {variables}."),
            variables=", ".join("{{ " + name + " }}" for name in MACRO_VARIABLES))}

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        unknown = sorted({name.strip() for name in _MACRO_PLACEHOLDER.findall(body)} - set(MACRO_VARIABLES))
        if unknown:
            raise forms.ValidationError(
                ngettext("Unknown variable: %(unknown)s. Use only: %(known)s.",
                         "Unknown variables: %(unknown)s. Use only: %(known)s.", len(unknown)),
                code="unknown_variable",
                params={"unknown": ", ".join("{{ " + name + " }}" for name in unknown),
                        "known": ", ".join("{{ " + name + " }}" for name in MACRO_VARIABLES)},
            )
        return body


@admin.register(Macro)
class MacroAdmin(admin.ModelAdmin):
    form = MacroForm
    list_display = ("shortcut", "title", "language", "is_active", "updated_at")
    list_filter = ("is_active", "language")
    search_fields = ("shortcut", "title", "body")
    search_help_text = _("Shortcut, title or text.")
    ordering = ("shortcut",)


@admin.register(ContactReason)
class ContactReasonAdmin(admin.ModelAdmin):
    list_display = ("key", "label", "is_active", "calls_enabled")
    list_filter = ("is_active", "calls_enabled")
    list_editable = ("calls_enabled",)
    search_fields = ("key", "label")

    def get_readonly_fields(self, request: HttpRequest, obj: ContactReason | None = None) -> tuple[str, ...]:
        # Conversations store the key: renaming it would orphan those resolved with it
        # (deactivate the reason and add a new one instead).
        return ("key",) if obj is not None else ()
