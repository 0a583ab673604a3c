"""Calls back into the OMS (rebates, coupons, and a customer's cancellation) through one small interface.

`get_oms_client()` returns the implementation the settings name: the HTTP client for a
real OMS, or the in-memory fake for tests and demos. Errors say whether trying again can
help (`OmsTransientError`: timeouts, 5xx, 429) or not (`OmsPermanentError`: 4xx).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import quote

import requests
from django.conf import settings

from timeline.models import order_cancel_refusal


class OmsError(Exception):
    pass


class OmsTransientError(OmsError):
    """Trying again later may work (network trouble, 5xx, rate limited)."""


class OmsPermanentError(OmsError):
    """Trying again will not help (rejected request, unknown order). `code` is the OMS's own word
    for why, when it gave one (`{"code": "in_delivery"}` in the body), else "refused"."""

    def __init__(self, message: str, *, code: str = "refused", status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class Rebate:
    reference: str
    order_external_id: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Coupon:
    code: str
    customer_external_id: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Cancellation:
    """The OMS's answer to a cancellation: the order's status now (cancelled) and since when."""

    order_external_id: str
    status: str
    cancelled_at: datetime | None
    replayed: bool = False


class OmsClient(Protocol):
    def issue_rebate(
        self, *, order_external_id: str, amount: Decimal, currency: str, reason: str,
        idempotency_key: str,
    ) -> Rebate: ...

    def issue_coupon(
        self, *, customer_external_id: str, amount: Decimal, currency: str, reason: str,
        idempotency_key: str,
    ) -> Coupon: ...

    def cancel_order(self, *, order_external_id: str, reason: str, idempotency_key: str) -> Cancellation: ...


class HttpOmsClient:
    """The OMS's REST API. Every call carries an idempotency key, so a retry never pays twice."""

    def __init__(self, *, base_url: str, token: str, timeout: float,
                 session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def _post(self, path: str, payload: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        try:
            response = self.session.post(
                f"{self.base_url}{path}", json=payload, timeout=self.timeout,
                headers={"Idempotency-Key": idempotency_key},
            )
        except requests.RequestException as exc:
            raise OmsTransientError(f"OMS unreachable: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise OmsTransientError(f"OMS answered {response.status_code} on {path}")
        if response.status_code >= 400:
            raise OmsPermanentError(
                f"OMS refused {path} ({response.status_code}): {response.text[:200]}",
                code=_refusal_code(response), status=response.status_code,
            )
        try:
            body = response.json()
        except ValueError:
            raise OmsTransientError(f"OMS sent a body that is not JSON on {path}") from None
        if not isinstance(body, dict):  # a proxy's or a broken OMS's answer: not the OMS's object
            raise OmsTransientError(f"OMS sent JSON that is not an object on {path}")
        return body

    def issue_rebate(self, *, order_external_id: str, amount: Decimal, currency: str,
                     reason: str, idempotency_key: str) -> Rebate:
        body = self._post(
            f"/orders/{order_external_id}/rebates",
            {"amount": str(amount), "currency": currency, "reason": reason},
            idempotency_key,
        )
        return Rebate(reference=str(body.get("id", "")), order_external_id=order_external_id,
                      amount=amount, currency=currency)

    def issue_coupon(self, *, customer_external_id: str, amount: Decimal, currency: str,
                     reason: str, idempotency_key: str) -> Coupon:
        body = self._post(
            f"/customers/{customer_external_id}/coupons",
            {"amount": str(amount), "currency": currency, "reason": reason},
            idempotency_key,
        )
        return Coupon(code=str(body.get("code", "")), customer_external_id=customer_external_id,
                      amount=amount, currency=currency)

    def cancel_order(self, *, order_external_id: str, reason: str, idempotency_key: str) -> Cancellation:
        """`POST /orders/<id>/cancel`: 200 with the order's status and `cancelled_at`; 409 when
        the OMS no longer cancels it (`code`: in_delivery, delivered, already_cancelled)."""
        body = self._post(f"/orders/{quote(order_external_id, safe='')}/cancel", {"reason": reason},
                          idempotency_key)
        return Cancellation(order_external_id=order_external_id, status=str(body.get("status") or "cancelled"),
                            cancelled_at=_timestamp(body.get("cancelled_at")))


def _refusal_code(response: requests.Response) -> str:
    try:
        code = response.json().get("code")
    except (ValueError, AttributeError):
        code = None
    if isinstance(code, str) and code.strip():
        return code.strip()[:64]
    return "not_found" if response.status_code == 404 else "refused"


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass
class FakeOmsClient:
    """Remembers every call; the same idempotency key returns the same result, like the OMS."""

    rebates: dict[str, Rebate] = field(default_factory=dict)
    coupons: dict[str, Coupon] = field(default_factory=dict)
    cancellations: dict[str, Cancellation] = field(default_factory=dict)
    # What the fake knows of orders' statuses (`order_status_set`); an order it was not told
    # about is taken as just created, so it can be cancelled.
    order_statuses: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def issue_rebate(self, *, order_external_id: str, amount: Decimal, currency: str,
                     reason: str, idempotency_key: str) -> Rebate:
        if amount <= 0:
            raise OmsPermanentError("A rebate must be a positive amount.")
        with self._lock:
            return self.rebates.setdefault(idempotency_key, Rebate(
                reference=f"rb_{uuid.uuid4().hex[:12]}", order_external_id=order_external_id,
                amount=amount, currency=currency,
            ))

    def issue_coupon(self, *, customer_external_id: str, amount: Decimal, currency: str,
                     reason: str, idempotency_key: str) -> Coupon:
        if amount <= 0:
            raise OmsPermanentError("A coupon must be a positive amount.")
        with self._lock:
            return self.coupons.setdefault(idempotency_key, Coupon(
                code=f"SORRY-{uuid.uuid4().hex[:8].upper()}",
                customer_external_id=customer_external_id, amount=amount, currency=currency,
            ))

    def order_status_set(self, order_external_id: str, status: str) -> None:
        with self._lock:
            self.order_statuses[order_external_id] = status

    def cancel_order(self, *, order_external_id: str, reason: str, idempotency_key: str) -> Cancellation:
        with self._lock:
            known = self.cancellations.get(idempotency_key)
            if known is not None:
                return replace(known, replayed=True)
            refusal = order_cancel_refusal(self.order_statuses.get(order_external_id, "created"))
            if refusal is not None:
                raise OmsPermanentError(f"OMS refused to cancel {order_external_id}: {refusal}",
                                        code=refusal, status=409)
            self.order_statuses[order_external_id] = "cancelled"
            cancellation = Cancellation(order_external_id=order_external_id, status="cancelled",
                                        cancelled_at=datetime.now(UTC))
            self.cancellations[idempotency_key] = cancellation
            return cancellation


_fake = FakeOmsClient()


def get_oms_client() -> OmsClient:
    if settings.OMS_CLIENT == "fake":
        return _fake
    return HttpOmsClient(
        base_url=settings.OMS_API_URL, token=settings.OMS_API_TOKEN,
        timeout=settings.OMS_API_TIMEOUT_SECONDS,
    )
