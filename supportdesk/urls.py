"""Root URLs: admin, REST API v1, OpenAPI, health. (The OMS webhook is routed in asgi.py.)"""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from conversations import views as desk_views
from conversations.api import ConversationViewSet, MessageViewSet, WorkItemViewSet
from integrations.email_webhooks import email_webhook_urls
from reports.api import StaffingViewSet
from routing.api import AgentRoutingViewSet, QueueStatsViewSet
from supportdesk import views
from supportdesk.api import ID_PATTERN, Router
from timeline.api import ContactViewSet, OrderViewSet
from workflows.surveys.api import RatingViewSet

router = Router()  # ids in paths are digits (supportdesk.api.Router)
router.register("contacts", ContactViewSet, basename="contact")
router.register("orders", OrderViewSet, basename="order")
router.register("conversations", ConversationViewSet, basename="conversation")
router.register(
    rf"conversations/(?P<conversation_id>{ID_PATTERN})/messages", MessageViewSet, basename="message"
)
router.register("routing/items", WorkItemViewSet, basename="routing-item")
router.register("routing/queues", QueueStatsViewSet, basename="routing-queue")
router.register("routing", AgentRoutingViewSet, basename="routing")
router.register("ratings", RatingViewSet, basename="rating")
router.register("reports/staffing", StaffingViewSet, basename="reports-staffing")

urlpatterns = [
    path("", desk_views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", include("reports.urls")),
    path("admin/", admin.site.urls),
    path("desk/live/", include("conversations.live_urls")),
    path("desk/mailbox/", include("integrations.mail_urls")),
    path("desk/reports/", include("reports.desk_urls")),
    path("integrations/email/", include(email_webhook_urls())),
    path("integrations/voice/", include("integrations.voice.urls")),
    path("desk/", include("conversations.workspace_urls")),
    path("api/v1/reports/", include("reports.api_urls")),
    path("api/v1/help/", include("helpcenter.api_urls")),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("widget/", include("conversations.widget_urls")),
    path("help/", include("helpcenter.urls")),
    path("survey/", include("workflows.surveys.urls")),
    path("call/", include("conversations.call_invitation_urls")),
]

handler404 = "supportdesk.views.not_found"
handler500 = "supportdesk.views.server_error"

admin.site.site_header = "Support desk administration"
admin.site.site_title = "Support desk"
