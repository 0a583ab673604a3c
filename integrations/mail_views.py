"""The supervisors' local mailbox: what the SMTP sink received (integrations.mail_sink)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from conversations.workspace import desk_view
from integrations import access
from integrations.mail_sink import mailbox_messages
from supportdesk.ids import id_from_text

PAGE_SIZE = 50


@require_GET
@desk_view
def mailbox(request: HttpRequest) -> HttpResponse:
    access.check_mailbox(user=request.user)
    page = Paginator(mailbox_messages(), PAGE_SIZE).get_page(id_from_text(request.GET.get("page")) or 1)
    return render(request, "desk/mailbox.html", {"page": page})


@require_GET
@desk_view
def mailbox_message(request: HttpRequest, message_id: int) -> HttpResponse:
    message = access.access_mailbox_message(user=request.user, message_id=message_id)
    return render(request, "desk/mailbox_message.html", {"message": message})
