"""HMAC-SHA256 signatures over `timestamp.body`, as the OMS sends them.

Headers: `X-OMS-Timestamp` (Unix seconds) and `X-OMS-Signature` (`sha256=<hex>`). Signing
the timestamp with the body stops an attacker replaying an old request with a new time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

TIMESTAMP_HEADER = "X-OMS-Timestamp"
SIGNATURE_HEADER = "X-OMS-Signature"
# Exactly what `sign` produces. Headers arrive as whatever bytes the client sent: checking
# their shape first keeps non-ASCII text away from hmac.compare_digest (a TypeError) and
# digits int() would take but no sender signed ("１７", "1_7", 4,000 of them) away from
# the clock arithmetic.
_TIMESTAMP_FORMAT = re.compile(r"[0-9]{1,12}")
_SIGNATURE_FORMAT = re.compile(r"sha256=[0-9a-f]{64}")


class SignatureError(Exception):
    """The request is not provably from the OMS, or is too old or too new."""


def sign(*, secret: str, timestamp: int | str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def signed_headers(*, secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers the OMS sends; used by the benchmark, the tests and integrators' examples."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret=secret, timestamp=timestamp, body=body),
    }


def verify(
    *, secret: str, timestamp: str | None, signature: str | None, body: bytes,
    tolerance_seconds: int, now: float | None = None,
) -> None:
    if not timestamp or not signature:
        raise SignatureError(f"Missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header.")
    if not _TIMESTAMP_FORMAT.fullmatch(timestamp):
        raise SignatureError(f"{TIMESTAMP_HEADER} must be Unix seconds.")
    sent_at = int(timestamp)
    now = time.time() if now is None else now
    if abs(now - sent_at) > tolerance_seconds:
        raise SignatureError(
            f"Timestamp is more than {tolerance_seconds} seconds away from the server's clock."
        )
    signature = signature.strip()
    if not _SIGNATURE_FORMAT.fullmatch(signature):
        raise SignatureError(f"{SIGNATURE_HEADER} must be sha256= and 64 hex digits.")
    expected = sign(secret=secret, timestamp=sent_at, body=body)
    if not hmac.compare_digest(expected, signature):
        raise SignatureError("Signature does not match the body and timestamp.")
