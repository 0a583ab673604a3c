"""What integrations give workflow steps: the OMS's rebate and coupon, and the email channel.
Registered into workflows' registries from this app's ready() (workflows imports nothing
from here).

Each call carries the step's idempotency key (the OMS's Idempotency-Key header; the email's
Message-ID is derived from it), so a retried step grants one rebate and sends one email.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from integrations import mail
from integrations.oms.client import OmsPermanentError, OmsTransientError, get_oms_client
from workflows import registry
from workflows.registry import StepContext, StepFailed, StepResult, StepRetry

MAX_AMOUNT = Decimal("1000")


def _amount(value: Any) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() and 0 < amount <= MAX_AMOUNT else None


def _money_errors(params: Mapping[str, Any]) -> list[str]:
    errors = []
    if isinstance(params.get("amount"), bool) or _amount(params.get("amount")) is None:
        errors.append(_("amount: a positive amount up to %(max)s, e.g. 5.00.") % {"max": MAX_AMOUNT})
    currency = params.get("currency", "")
    if currency and not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
        errors.append(_("currency: a three-letter code such as EUR, or empty for the order's."))
    if "reason" in params and not isinstance(params["reason"], str):
        errors.append(_("reason: text."))
    return errors


def _currency(params: Mapping[str, Any], context: StepContext) -> str:
    if params.get("currency"):
        return params["currency"].upper()
    return context.order.currency if context.order is not None else "EUR"


@contextmanager
def _oms_outcome() -> Iterator[None]:
    """The OMS's answer as the step's: try again later (StepRetry) or never (StepFailed)."""
    try:
        yield
    except OmsTransientError as error:
        raise StepRetry(str(error)) from error
    except OmsPermanentError as error:
        raise StepFailed(str(error)) from error


def _rebate(params: Mapping[str, Any], context: StepContext) -> StepResult:
    if context.order is None:
        raise StepFailed(_("A rebate is granted on an order; this run is not about one."))
    amount, currency = _amount(params["amount"]), _currency(params, context)
    with _oms_outcome():
        rebate = get_oms_client().issue_rebate(
            order_external_id=context.order.external_id, amount=amount, currency=currency,
            reason=params.get("reason") or "workflow", idempotency_key=context.idempotency_key)
    return StepResult(
        data={"reference": rebate.reference, "amount": str(amount), "currency": currency},
        summary=_("granted a %(amount)s %(currency)s rebate") % {"amount": f"{amount:.2f}", "currency": currency},
        variables={"rebate.amount": f"{amount:.2f}", "rebate.currency": currency,
                   "rebate.reference": rebate.reference})


def _coupon(params: Mapping[str, Any], context: StepContext) -> StepResult:
    amount, currency = _amount(params["amount"]), _currency(params, context)
    with _oms_outcome():
        coupon = get_oms_client().issue_coupon(
            customer_external_id=context.contact.external_id, amount=amount, currency=currency,
            reason=params.get("reason") or "workflow", idempotency_key=context.idempotency_key)
    return StepResult(
        data={"code": coupon.code, "amount": str(amount), "currency": currency},
        summary=_("gave a %(amount)s %(currency)s coupon") % {"amount": f"{amount:.2f}", "currency": currency},
        variables={"coupon.code": coupon.code, "coupon.amount": f"{amount:.2f}", "coupon.currency": currency})


def integration_actions_register() -> None:
    registry.action_register(
        "oms_rebate", label=gettext_lazy("Grant a rebate on the order (OMS)"), params_errors=_money_errors,
        run=_rebate, describe=lambda params, context: _("grant a %(amount)s rebate") % params)
    registry.action_register(
        "oms_coupon", label=gettext_lazy("Give a coupon for the next order (OMS)"), params_errors=_money_errors,
        run=_coupon, describe=lambda params, context: _("give a %(amount)s coupon") % params)
    # The email channel is integrations.mail's (Message-ID from the step's key, Content-Language).
    registry.channel_register("email", label=gettext_lazy("Email"), send=mail.email_channel_send)
