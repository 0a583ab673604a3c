from typing import Any

from django.apps import AppConfig


def _sockets_close_at_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    # Sent before the session is flushed, so its key still names the sockets to close.
    from conversations import push

    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        push.session_ended(session_key=session_key)


class ConversationsConfig(AppConfig):
    name = "conversations"
    verbose_name = "Conversations"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from conversations.calls import call_actions_consumer_register
        from conversations.channels import transports_consumer_register
        from conversations.routing_history import routing_history_register

        routing_history_register()
        transports_consumer_register()
        call_actions_consumer_register()
        user_logged_out.connect(_sockets_close_at_logout, dispatch_uid="conversations-sockets-close-at-logout")
