"""The WhatsApp webhook endpoint: thin; the provider's signature is the access (inbound.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from integrations.whatsapp import inbound

BODY_MAX_BYTES = 1024 * 1024  # Meta's posts are a few KB; media come by id, not in the post


@csrf_exempt
@require_http_methods(["GET", "POST"])
def webhook(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        challenge = inbound.verify_handshake(mode=request.GET.get("hub.mode"),
                                             token=request.GET.get("hub.verify_token"),
                                             challenge=request.GET.get("hub.challenge"))
        if challenge is None:
            return JsonResponse({"error": _("The verify token does not match.")}, status=403)
        return HttpResponse(challenge, content_type="text/plain")
    if len(request.body) > BODY_MAX_BYTES:
        return JsonResponse({"error": _("The body is over %(limit)s bytes.") % {"limit": BODY_MAX_BYTES}},
                            status=413)
    try:
        stored = inbound.webhook_receive(body=request.body, signature=request.headers.get("X-Hub-Signature-256"))
    except inbound.SignatureError as error:
        return JsonResponse({"error": str(error)}, status=401)
    except inbound.PayloadError as error:
        return JsonResponse({"error": str(error)}, status=400)
    return JsonResponse({"received": True, "duplicate": stored.duplicate})
