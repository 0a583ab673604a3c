"""The WhatsApp webhook, served bare (`supportdesk.asgi_intake`: no middleware, one thread
crossing; `supportdesk.asgi` routes /integrations/whatsapp/webhook/ here): thin, the provider's
signature and verify token are the access (inbound.py)."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _

from integrations.whatsapp import inbound
from supportdesk.asgi_intake import Answer, Request, intake_endpoint


def subscription_check(request: Request) -> Answer:
    """Meta's GET when the webhook is subscribed: the challenge echoed, or 403 (no database)."""
    challenge = inbound.verify_handshake(mode=request.query.get("hub.mode"),
                                         token=request.query.get("hub.verify_token"),
                                         challenge=request.query.get("hub.challenge"))
    if challenge is None:
        return Answer.error(403, "invalid_verify_token", _("The verify token does not match."))
    return Answer.text(200, challenge)


def delivery_receive(request: Request) -> Answer:
    try:
        stored = inbound.webhook_receive(body=request.body, signature=request.headers.get("x-hub-signature-256"))
    except inbound.SignatureError as error:
        return Answer.error(401, "invalid_signature", str(error))
    except inbound.PayloadError as error:
        return Answer.error(400, "invalid_payload", str(error))
    return Answer.json(200, {"received": True, "duplicate": stored.duplicate})


webhook = intake_endpoint(key="whatsapp", name="The WhatsApp webhook", get=subscription_check,
                          post=delivery_receive, max_body_bytes=lambda: settings.WHATSAPP_WEBHOOK_MAX_BODY_BYTES)
