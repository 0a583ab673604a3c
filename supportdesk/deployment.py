"""What a deployment must set before the desk starts with DEBUG off.

The repository publishes development values for its secrets so that `make run` works on a
fresh machine. Anyone can read them, so with DEBUG off (production) the settings refuse to
load while one is still in place, or empty: a desk running on them would accept OMS events
and widget identities signed by anyone, and sessions signed with a public key.

This module reads no Django settings, so settings.py can call it while it loads, and the
entry points (manage.py, asgi.py, the Celery app) can print the refusal as one clear message
instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

# The development values the settings fall back to with DEBUG on. They are in this public
# repository: never a secret.
DEVELOPMENT_SECRETS: dict[str, str] = {
    "SECRET_KEY": "dev-only-insecure-secret-key-change-me",
    "OMS_WEBHOOK_SECRET": "dev-oms-webhook-secret",
    "WIDGET_IDENTITY_SECRET": "dev-widget-identity-secret-change-me-32b",
    "MAILGUN_WEBHOOK_SIGNING_KEY": "dev-mailgun-webhook-signing-key",
    "POSTMARK_INBOUND_BASIC_AUTH": "desk:dev-postmark-inbound-secret",
    "WHATSAPP_APP_SECRET": "dev-whatsapp-app-secret",
    "WHATSAPP_VERIFY_TOKEN": "dev-whatsapp-verify-token",
    "TWILIO_AUTH_TOKEN": "dev-twilio-auth-token",
}

# Other values this repository has published for a secret (older docker-compose defaults, the
# placeholders of .env.example): a deployment that copied one is as open as one that set none.
PUBLISHED_SECRET_VALUES: frozenset[str] = frozenset({
    *DEVELOPMENT_SECRETS.values(),
    "change-me-in-production",
    "change-me",
    "postgres",
})


@dataclass(frozen=True)
class SecretRule:
    name: str
    how_to_set: str


SECRET_RULES: tuple[SecretRule, ...] = (
    SecretRule("SECRET_KEY", "a long random value of your own, e.g. the output of "
               "`python -c \"import secrets; print(secrets.token_urlsafe(50))\"`"),
    SecretRule("OMS_WEBHOOK_SECRET", "the secret your order-management system signs its webhooks with"),
    SecretRule("WIDGET_IDENTITY_SECRET", "a random value of at least 32 characters, shared only with "
               "the host sites that sign their visitors' identities"),
)
# Secrets of optional integrations: unset, the integration is off (its endpoint answers 404);
# set in production, it must not be a published value.
OPTIONAL_SECRET_RULES = (
    SecretRule("MAILGUN_WEBHOOK_SIGNING_KEY", "the HTTP webhook signing key of your Mailgun account "
               "(or leave it unset: no Mailgun inbound webhook)"),
    SecretRule("WHATSAPP_APP_SECRET", "your Meta app's secret, which signs the WhatsApp webhook's posts "
               "(or leave it unset: the WhatsApp webhook refuses every post)"),
    SecretRule("WHATSAPP_VERIFY_TOKEN", "a random value of your own, the one you give Meta for the "
               "webhook's subscription check"),
    SecretRule("TWILIO_AUTH_TOKEN", "your Twilio account's auth token, which signs the voice webhooks' posts "
               "(or leave it unset: the voice webhooks refuse every post and no call is connected)"),
    SecretRule("POSTMARK_INBOUND_BASIC_AUTH", "user:password of your own, the same in the inbound webhook URL "
               "you give Postmark (or leave it unset: no Postmark inbound webhook)"),
)
# An empty database password is a choice (local trust or peer authentication); a published one is not.
DATABASE_PASSWORD_RULE = SecretRule("DATABASE_URL", "a URL whose password is your own "
                                    "(with docker-compose: POSTGRES_PASSWORD in .env)")
# Needed only when the desk calls a real OMS (OMS_CLIENT=http): the credential it calls with.
OMS_API_TOKEN_RULE = SecretRule("OMS_API_TOKEN", "the API token the OMS gave this desk "
                                "(or OMS_CLIENT=fake for a desk without an OMS)")


class InsecureDeployment(ImproperlyConfigured):
    """The settings refuse this environment; the message names each variable and how to set it."""


def secret_problems(values: Mapping[str, str], *, oms_client: str, database_password: str) -> list[str]:
    """One line per secret that is empty or a published value: its name, what is wrong, how to set it.

    Messages for whoever deploys, shown before Django (and its translations) can load: English."""
    rules = list(SECRET_RULES)
    if oms_client == "http":
        rules.append(OMS_API_TOKEN_RULE)
    problems = []
    for rule in rules:
        value = (values.get(rule.name) or "").strip()
        if not value:
            problems.append(f"{rule.name} is not set: set it to {rule.how_to_set}.")
        elif value in PUBLISHED_SECRET_VALUES:
            problems.append(f"{rule.name} is a development value published in the repository: "
                            f"set it to {rule.how_to_set}.")
    for rule in OPTIONAL_SECRET_RULES:
        if (values.get(rule.name) or "").strip() in PUBLISHED_SECRET_VALUES:
            problems.append(f"{rule.name} is a development value published in the repository: "
                            f"set it to {rule.how_to_set}.")
    if database_password in PUBLISHED_SECRET_VALUES:
        problems.append(f"{DATABASE_PASSWORD_RULE.name} has a password published in the repository: "
                        f"set it to {DATABASE_PASSWORD_RULE.how_to_set}.")
    return problems


def refusal_message(problems: list[str]) -> str:
    lines = "\n".join(f"  - {problem}" for problem in problems)
    return (
        "The support desk refuses to start with DEBUG off while these secrets are unsafe:\n"
        f"{lines}\n"
        "Set them in the environment or in a .env file next to manage.py (see .env.example). "
        "On a development machine, set DEBUG=true instead (make run does)."
    )
