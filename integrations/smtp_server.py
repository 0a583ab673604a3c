"""What the desk's two SMTP servers (the sink of what it sends, the inbound server) share."""

from __future__ import annotations

import signal
import threading
from typing import Any


def envelope_bytes(envelope: Any) -> bytes:
    """The message as received, as bytes (aiosmtpd gives bytes, or text for a decoded one)."""
    raw = envelope.original_content or envelope.content
    return raw.encode("utf-8", "replace") if isinstance(raw, str) else raw


def smtp_serve(controller: Any, *, started: str) -> None:
    """Start an aiosmtpd controller, say `started`, and serve until SIGINT or SIGTERM (the
    management commands'); raises OSError or RuntimeError when it cannot listen."""
    controller.start()
    print(started, flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    controller.stop()
