from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from conversations.channels import attachment_reader_register, transport_register
        from integrations.actions import integration_actions_register
        from integrations.email_inbound import email_attachment_read, inbound_email_register
        from integrations.email_outbound import email_transport_send
        from integrations.email_webhooks import email_webhooks_register

        integration_actions_register()
        inbound_email_register()
        email_webhooks_register()
        transport_register(channel="email", send=email_transport_send)
        attachment_reader_register(channel="email", read=email_attachment_read)
