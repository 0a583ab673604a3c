"""The contact page of the desk: a kind-specific header and the whole timeline, newest first,
filtered by kind and date and paged by cursor (server-rendered, the API's selector and pages)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from conversations.selectors import conversation_summaries
from conversations.workspace import desk_view
from supportdesk.api import detail_summary
from supportdesk.errors import DomainError
from timeline import selectors
from timeline.access import access_contact
from timeline.display import events_display
from timeline.events import known_kinds
from timeline.models import Contact, ContactKind, TimelineEvent
from timeline.search import contact_search
from timeline.timeline_query import TimelinePagination, timeline_query_parse

PANEL_EVENTS = 15


def event_page_link(event: TimelineEvent) -> str | None:
    """Where a desk user opens the event's object: a desk page (a conversation in the
    workspace, an order on its page), never the admin or the raw API."""
    if event.subject_id is None:
        return None
    if event.subject_type == "order":
        return reverse("desk:order_page", args=[event.subject_id])
    if event.subject_type == "conversation":
        return reverse("desk:conversation_page", args=[event.subject_id])
    return None


def _kind_choices() -> list[tuple[str, list[str]]]:
    """The kind filter's options: each family (all its kinds) followed by its kinds."""
    families: dict[str, list[str]] = {}
    for kind in sorted(known_kinds()):
        families.setdefault(kind.split(".", 1)[0], []).append(kind)
    return sorted(families.items())


def _header(contact: Contact) -> dict[str, Any]:
    if contact.kind == ContactKind.CUSTOMER:
        coupons = contact.attributes.get("coupons") if isinstance(contact.attributes, dict) else None
        return {"coupons": coupons if isinstance(coupons, list) else []}
    if contact.kind == ContactKind.COURIER:
        return {"current_order": contact.current_order}
    return {}


def _rows(events: Any) -> list[tuple[TimelineEvent, str | None, dict[str, Any] | None]]:
    """Each event with the link to its object and, for a conversation, what was said in it."""
    events = list(events)
    events_display(events)
    summaries = conversation_summaries(conversation_ids=[
        event.subject_id for event in events if event.subject_type == "conversation" and event.subject_id])
    return [(event, event_page_link(event),
             summaries.get(event.subject_id) if event.subject_type == "conversation" else None)
            for event in events]


@require_GET
@desk_view
def contact_page(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = access_contact(user=request.user, contact_id=contact_id,
                             contacts=Contact.objects.select_related("current_order"))
    context: dict[str, Any] = {
        "contact": contact, "header": _header(contact), "kind_choices": _kind_choices(),
        "chosen_kinds": request.GET.getlist("kind"), "since": request.GET.get("since", ""),
        "until": request.GET.get("until", ""),
    }
    paginator = TimelinePagination()
    try:
        query = timeline_query_parse(request.GET)
        events = paginator.paginate_queryset(selectors.timeline_events(contact_id=contact.pk, **query),
                                             Request(request))
    except ValidationError as error:
        context["problem"] = detail_summary(error.detail)
        return render(request, "desk/contact.html", context, status=400)
    context.update(
        rows=_rows(events or []),
        older=paginator.get_next_link(), newer=paginator.get_previous_link(),
    )
    return render(request, "desk/contact.html", context)


@require_GET
@desk_view
def contact_timeline_panel(request: HttpRequest, contact_id: int) -> HttpResponse:
    """The newest events of a contact, for the workspace's contact sidebar (loaded by htmx)."""
    contact = access_contact(user=request.user, contact_id=contact_id)
    events = selectors.timeline_events(contact_id=contact.pk)[:PANEL_EVENTS]
    return render(request, "desk/_timeline_panel.html",
                  {"contact": contact, "rows": _rows(events)})


@require_GET
@desk_view
def contacts_search(request: HttpRequest) -> HttpResponse:
    """Find a contact by name, email, phone, contact id or order id (accents and partial input
    welcome), best match first."""
    query, kind = request.GET.get("q", "").strip(), request.GET.get("kind", "")
    context: dict[str, Any] = {"query": query, "kind": kind, "kinds": ContactKind.choices, "hits": []}
    if query:
        try:
            context["hits"] = contact_search(query=query, kind=kind or None)
        except DomainError as error:
            context["problem"] = error.message
            return render(request, "desk/contacts.html", context, status=error.status_code)
    return render(request, "desk/contacts.html", context)
