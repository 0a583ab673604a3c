"""ASGI entry point: HTTP through Django (the OMS and WhatsApp webhooks beside it), websockets through Channels."""

import os

from django.core.asgi import get_asgi_application

from supportdesk.deployment import InsecureDeployment

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")
try:
    django_asgi_app = get_asgi_application()
except InsecureDeployment as refused:  # the server stops with the sentence, not a traceback
    raise SystemExit(str(refused)) from None

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path, re_path  # noqa: E402

from conversations.intents.model import trained_in_background  # noqa: E402
from integrations.webhooks import oms_webhook  # noqa: E402
from integrations.whatsapp.views import webhook as whatsapp_webhook  # noqa: E402
from supportdesk.routing import websocket_urlpatterns  # noqa: E402
from supportdesk.unavailable import WebsocketDatabaseGuard  # noqa: E402
from supportdesk.websocket_origin import SameOriginValidator  # noqa: E402

# The first chat message and the widget's self-service classify what the customer wants: the
# model is trained as the process starts, not while the first customer waits.
trained_in_background()

application = ProtocolTypeRouter(
    {
        "http": URLRouter([
            # High volume and signed: served without Django's middleware (supportdesk.asgi_intake).
            path("integrations/oms/webhook", oms_webhook),
            path("integrations/whatsapp/webhook/", whatsapp_webhook),
            re_path(r"", django_asgi_app),
        ]),
        "websocket": SameOriginValidator(
            WebsocketDatabaseGuard(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)
