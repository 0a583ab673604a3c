"""The supervisors' local mailbox: what the SMTP sink received (integrations.mail_sink)."""

from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from conversations.workspace import desk_view
from integrations import access
from integrations.mail_sink import mailbox_messages
from integrations.oms.fake_server import fake_oms_calls
from supportdesk.ids import id_from_text

PAGE_SIZE = 50


@require_GET
@desk_view
def mailbox(request: HttpRequest) -> HttpResponse:
    access.check_mailbox(user=request.user)
    page = Paginator(mailbox_messages(), PAGE_SIZE).get_page(id_from_text(request.GET.get("page")) or 1)
    # Beside the emails, what the fake OMS (the demo's, `manage.py fake_oms`) was asked for, when
    # OMS_API_URL points at one; a real OMS has no such listing and nothing is shown.
    oms_calls = (fake_oms_calls(base_url=settings.OMS_API_URL, token=settings.OMS_API_TOKEN, timeout=1.0)
                 if settings.OMS_CLIENT == "http" else None)
    return render(request, "desk/mailbox.html", {
        "page": page, "oms_calls": list(reversed(oms_calls))[:PAGE_SIZE] if oms_calls is not None else None})


@require_GET
@desk_view
def mailbox_message(request: HttpRequest, message_id: int) -> HttpResponse:
    message = access.access_mailbox_message(user=request.user, message_id=message_id)
    return render(request, "desk/mailbox_message.html", {"message": message})
