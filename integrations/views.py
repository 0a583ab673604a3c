"""Webhook endpoints: parse the request, call one service, shape the JSON answer."""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from integrations import services
from integrations.oms import schema, signature
from supportdesk.errors import error_body

logger = logging.getLogger(__name__)


@csrf_exempt
def oms_webhook(request: HttpRequest) -> JsonResponse:
    if request.method != "POST":
        return JsonResponse(
            error_body("method_not_allowed", "Send OMS events with POST."), status=405,
            headers={"Allow": "POST"},
        )
    try:
        result = services.oms_webhook_receive(
            body=request.body,
            timestamp=request.headers.get(signature.TIMESTAMP_HEADER),
            signature_header=request.headers.get(signature.SIGNATURE_HEADER),
        )
    except signature.SignatureError as exc:
        return JsonResponse(error_body("invalid_signature", str(exc)), status=401)
    except services.PayloadTooLarge as exc:
        return JsonResponse(error_body("payload_too_large", str(exc)), status=413)
    except schema.OmsPayloadError as exc:
        details = {"field": exc.field} if exc.field else None
        return JsonResponse(error_body(exc.code, exc.message, details), status=400)
    except DatabaseError:
        logger.exception("Could not store an OMS event")
        return JsonResponse(
            error_body("unavailable", "The event could not be stored; send it again later."),
            status=503, headers={"Retry-After": "5"},
        )
    if result.duplicate:
        return JsonResponse({"status": "duplicate", "event_id": result.event_id}, status=200)
    return JsonResponse({"status": "accepted", "event_id": result.event_id}, status=202)
