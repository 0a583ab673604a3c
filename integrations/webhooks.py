"""The OMS webhook, served bare (`supportdesk.asgi_intake`: no middleware, one thread crossing).

Like a view, this only parses the request, calls one service and shapes the JSON answer;
`supportdesk.asgi` routes the path here.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DataError
from django.utils.translation import gettext as _

from integrations import services
from integrations.oms import schema, signature
from supportdesk.asgi_intake import Answer, Request, intake_endpoint

logger = logging.getLogger(__name__)


def oms_webhook_answer(request: Request) -> Answer:
    """Verify, validate and store one delivery; its outcome as (status, JSON body)."""
    try:
        result = services.oms_webhook_receive(
            body=request.body,
            timestamp=request.headers.get(signature.TIMESTAMP_HEADER.lower()),
            signature_header=request.headers.get(signature.SIGNATURE_HEADER.lower()),
        )
    except signature.SignatureError as exc:
        return Answer.error(401, "invalid_signature", str(exc))
    except services.PayloadTooLarge as exc:
        return Answer.error(413, "payload_too_large", str(exc))
    except schema.OmsPayloadError as exc:
        return Answer.error(400, exc.code, exc.message, {"field": exc.field} if exc.field else None)
    except DataError:
        # Defence in depth: the schema refuses what PostgreSQL would (NUL, lone surrogates,
        # numbers and times out of range); should a case slip through, it is still the
        # sender's data at fault, never a 500 (nor a 503: sent again, it would fail again).
        logger.warning("PostgreSQL refused an OMS event the schema accepted", exc_info=True)
        return Answer.error(400, "invalid_event", _("The event holds values that cannot be stored."))
    if result.duplicate:
        return Answer.json(200, {"status": "duplicate", "event_id": result.event_id})
    return Answer.json(202, {"status": "accepted", "event_id": result.event_id})


oms_webhook = intake_endpoint(key="oms", name="The OMS webhook", post=oms_webhook_answer,
                              max_body_bytes=lambda: settings.OMS_WEBHOOK_MAX_BODY_BYTES)
