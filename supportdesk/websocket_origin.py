"""The websocket Origin check: the whole origin (scheme, host and port), not the host alone.

Channels' AllowedHostsOriginValidator compares only the host name with ALLOWED_HOSTS, so a
page served from another port of the same host (another application, a developer's tool)
could open an agent's socket with their cookie. Here a socket is accepted when its Origin is
exactly the origin the browser connected to (the Host header, itself allowed by
ALLOWED_HOSTS, with the socket's scheme) or one listed in CSRF_TRUSTED_ORIGINS. The widget's
socket is opened from its iframe, which the desk serves, so it passes the same check.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_normalise(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin like https://desk.example.com:8443, or None when it is
    not one (no scheme or host, a path, an unknown scheme, a bad port)."""
    try:
        parts = urlsplit(origin.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.username or parts.password:
        return None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


def _allowed_hosts() -> list[str]:
    # As Django's own HttpRequest.get_host: with DEBUG and no list, local names only.
    if settings.ALLOWED_HOSTS:
        return list(settings.ALLOWED_HOSTS)
    return [".localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else []


def origin_allowed(*, origin: str | None, host: str | None, scheme: str) -> bool:
    """Whether a socket opened from `origin` to `host` (the Host header) over `scheme`
    (ws/wss, or http/https as a proxy reports it) belongs to this site."""
    if not origin:
        return False  # browsers always send one; a socket without it did not come from a page
    wanted = origin_normalise(origin)
    if wanted is None:
        return False
    if any(wanted == origin_normalise(trusted) for trusted in settings.CSRF_TRUSTED_ORIGINS):
        return True
    if not host:
        return False
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, _allowed_hosts()):
        return False
    http_scheme = "https" if scheme in ("wss", "https") else "http"
    return wanted == origin_normalise(f"{http_scheme}://{host}")


class SameOriginValidator:
    """ASGI middleware for websockets: the handshake is refused (403) unless `origin_allowed`."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        headers = {name.decode("latin-1").lower(): value.decode("latin-1")
                   for name, value in scope.get("headers", [])}
        if origin_allowed(origin=headers.get("origin"), host=headers.get("host"),
                          scheme=scope.get("scheme", "ws")):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
