"""What integrations give workflow steps: the OMS's rebate and coupon, and the email channel.
Registered into workflows' registries from this app's ready() (workflows imports nothing
from here).

Each call carries the step's idempotency key (the OMS's Idempotency-Key header; the email's
Message-ID is derived from it), so a retried step grants one rebate and sends one email.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

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


def _rebate(params: Mapping[str, Any], context: StepContext) -> StepResult:
    if context.order is None:
        raise StepFailed(_("A rebate is granted on an order; this run is not about one."))
    amount, currency = _amount(params["amount"]), _currency(params, context)
    try:
        rebate = get_oms_client().issue_rebate(
            order_external_id=context.order.external_id, amount=amount, currency=currency,
            reason=params.get("reason") or "workflow", idempotency_key=context.idempotency_key)
    except OmsTransientError as error:
        raise StepRetry(str(error)) from error
    except OmsPermanentError as error:
        raise StepFailed(str(error)) from error
    return StepResult(
        data={"reference": rebate.reference, "amount": str(amount), "currency": currency},
        summary=_("granted a %(amount)s %(currency)s rebate") % {"amount": f"{amount:.2f}", "currency": currency},
        variables={"rebate.amount": f"{amount:.2f}", "rebate.currency": currency,
                   "rebate.reference": rebate.reference})


def _coupon(params: Mapping[str, Any], context: StepContext) -> StepResult:
    amount, currency = _amount(params["amount"]), _currency(params, context)
    try:
        coupon = get_oms_client().issue_coupon(
            customer_external_id=context.contact.external_id, amount=amount, currency=currency,
            reason=params.get("reason") or "workflow", idempotency_key=context.idempotency_key)
    except OmsTransientError as error:
        raise StepRetry(str(error)) from error
    except OmsPermanentError as error:
        raise StepFailed(str(error)) from error
    return StepResult(
        data={"code": coupon.code, "amount": str(amount), "currency": currency},
        summary=_("gave a %(amount)s %(currency)s coupon") % {"amount": f"{amount:.2f}", "currency": currency},
        variables={"coupon.code": coupon.code, "coupon.amount": f"{amount:.2f}", "coupon.currency": currency})


def _email_send(contact: Any, rendered: Any, *, idempotency_key: str, context: StepContext) -> str:
    if not contact.email:
        raise StepFailed(_("The contact has no email address."))
    from integrations import mail  # noqa: PLC0415 (SMTP only where a step sends; the admin part's)

    try:
        sent = mail.mail_send(to=contact.email, subject=rendered.subject, body=rendered.body,
                              idempotency_key=idempotency_key)
    except mail.MailTransientError as error:
        raise StepRetry(str(error)) from error
    except mail.MailPermanentError as error:
        raise StepFailed(str(error)) from error
    return sent.message_id


def integration_actions_register() -> None:
    registry.action_register(
        "oms_rebate", label=gettext_lazy("Grant a rebate on the order (OMS)"), params_errors=_money_errors,
        run=_rebate, describe=lambda params, context: _("grant a %(amount)s rebate") % params)
    registry.action_register(
        "oms_coupon", label=gettext_lazy("Give a coupon for the next order (OMS)"), params_errors=_money_errors,
        run=_coupon, describe=lambda params, context: _("give a %(amount)s coupon") % params)
    registry.channel_register("email", label=gettext_lazy("Email"), send=_email_send)
