"""What the desk's two SMTP servers (the sink of what it sends, the inbound server) share."""

from __future__ import annotations

import ctypes
import signal
import threading
from typing import Any

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


def envelope_bytes(envelope: Any) -> bytes:
    """The message as received, as bytes (aiosmtpd gives bytes, or text for a decoded one)."""
    raw = envelope.original_content or envelope.content
    return raw.encode("utf-8", "replace") if isinstance(raw, str) else raw


def large_buffers_returned() -> None:
    """Have glibc map every buffer of 1 MiB or more on its own, and give it back to the system
    when freed: a 20 MB email's copies (its data, its raw bytes for the store) then leave no
    heap behind, whichever thread held them. By default glibc raises that threshold after the
    first large buffer freed, and later ones come from the threads' heaps, which keep them."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, 1 << 20)
    except (OSError, AttributeError):  # not glibc: its allocator's own way
        pass


def smtp_serve(controller: Any, *, started: str) -> None:
    """Start an aiosmtpd controller, say `started`, and serve until SIGINT or SIGTERM (the
    management commands'); raises OSError or RuntimeError when it cannot listen."""
    large_buffers_returned()
    controller.start()
    print(started, flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    controller.stop()
