"""Who may read the reports' entry points: the one place they check (DESIGN.md)."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest


def metrics_allowed(request: HttpRequest) -> bool:
    """/metrics: a scraper showing METRICS_TOKEN as a bearer token, or one whose address is in
    METRICS_ALLOWED_NETWORKS. A wrong token is refused even from an allowed network (it is a
    mistake to see, not to hide)."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        return bool(settings.METRICS_TOKEN) and scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), settings.METRICS_TOKEN.encode())
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    networks = settings.METRICS_ALLOWED_NETWORKS
    return any(address in ipaddress.ip_network(network, strict=False) for network in networks)
