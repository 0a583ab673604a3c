"""The reports' entry points; thin: access (reports.access), then the module that answers."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from reports.access import metrics_allowed
from reports.metrics import DeskCollector
from supportdesk.errors import error_body
from supportdesk.unavailable import database_unavailable

log = logging.getLogger(__name__)


@require_GET
def metrics_page(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        return JsonResponse(error_body("forbidden", _(
            "Show METRICS_TOKEN as a bearer token, or scrape from a network in METRICS_ALLOWED_NETWORKS.")),
            status=403)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DeskCollector())
    try:
        body = generate_latest(registry)
    except Exception as error:
        if database_unavailable(error):
            raise  # the middleware's 503
        # Redis unreachable: the counters cannot be read; say so rather than show half the figures.
        log.warning("/metrics could not read the counters: %s", error)
        return JsonResponse(error_body("unavailable", _("The metrics cannot be read now; try again shortly.")),
                            status=503, headers={"Retry-After": "5"})
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
