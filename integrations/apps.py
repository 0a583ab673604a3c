from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = _("Integrations")

    def ready(self) -> None:
        from conversations.calls import call_provider_register
        from conversations.channels import attachment_reader_register, composer_hint_register, transport_register
        from integrations.actions import integration_actions_register
        from integrations.email_content import email_attachment_read
        from integrations.email_inbound import inbound_email_register
        from integrations.email_outbound import email_transport_send
        from integrations.email_webhooks import email_webhooks_register
        from integrations.order_actions import order_actions_register
        from integrations.voice.inbound import voice_register
        from integrations.voice.outbound import voice_perform
        from integrations.whatsapp.inbound import whatsapp_register
        from integrations.whatsapp.outbound import whatsapp_transport_send, window_hint
        from supportdesk.model_names import model_names_translate

        model_names_translate(self)
        integration_actions_register()
        order_actions_register()
        inbound_email_register()
        email_webhooks_register()
        transport_register(channel="email", send=email_transport_send)
        if settings.WHATSAPP_APP_SECRET:  # configured: else messaging replies go nowhere, not to a fake
            transport_register(channel="messaging", send=whatsapp_transport_send)
            composer_hint_register(channel="messaging", hint=window_hint)
        whatsapp_register()
        if settings.TWILIO_AUTH_TOKEN:  # configured: else call actions fail as "no voice provider"
            call_provider_register(perform=voice_perform)
        voice_register()
        attachment_reader_register(channel="email", read=email_attachment_read)
