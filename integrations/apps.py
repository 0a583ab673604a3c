from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        # Integrations plug into workflows' registries (workflows imports nothing from here).
        from integrations.mail import email_channel_send
        from workflows.registry import channel_register

        channel_register("email", label=_("Email"), send=email_channel_send)
