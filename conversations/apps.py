from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _sockets_close_at_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    # Sent before the session is flushed, so its key still names the sockets to close.
    from conversations import push

    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        push.session_ended(session_key=session_key)


class ConversationsConfig(AppConfig):
    name = "conversations"
    verbose_name = _("Conversations")

    def ready(self) -> None:
        from celery.signals import worker_process_init
        from django.contrib.auth.signals import user_logged_out

        from conversations.calls import call_actions_consumer_register
        from conversations.channels import transports_consumer_register
        from conversations.routing_history import routing_history_register
        from conversations.suggestions.training import suggestions_seeding_register
        from supportdesk.model_names import model_names_translate

        model_names_translate(self)
        routing_history_register()
        transports_consumer_register()
        call_actions_consumer_register()
        suggestions_seeding_register()
        user_logged_out.connect(_sockets_close_at_logout, dispatch_uid="conversations-sockets-close-at-logout")
        # A worker process routes new conversations, which records their intent: the model is
        # trained as the process starts rather than while the first conversation waits.
        worker_process_init.connect(_intent_model_train, dispatch_uid="conversations-intent-model-train")


def _intent_model_train(**kwargs: Any) -> None:
    from conversations.intents.model import trained_in_background  # scikit-learn: only in a worker

    trained_in_background()
