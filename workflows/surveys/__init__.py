"""Satisfaction surveys (CSAT): asked when a conversation is resolved, answered in the chat
widget or on a signed link's page, kept on the conversation, the timeline and the contact.

- `models`: the supervisors' settings per channel and queue, and each survey asked.
- `services`: scheduling on resolution (an outbox consumer of the timeline), sending when
  due, answering (one path for the widget and the link), and the contact's statistics.
- `links`: the signed link (django.core.signing) and what is wrong with a bad one.
"""


def surveys_ready() -> None:
    """Plug surveys in (from the workflows app's ready()): the timeline consumer that sees
    resolutions, the chat widget's survey provider, and the tasks."""
    from conversations.surveys import survey_provider_register
    from supportdesk import outbox
    from timeline import events
    from timeline.models import TIMELINE_STREAM
    from workflows.surveys import admin, services, tasks  # noqa: F401  (admin, tasks: registered)

    def wanted(event) -> bool:  # noqa: ANN001 (a TimelineEvent)
        return event.kind == events.EventKind.CONVERSATION_STATUS_CHANGED

    outbox.consumer_register(name=tasks.CONSUMER, stream=TIMELINE_STREAM,
                             handle=services.surveys_on_status_changes, wants=wanted)
    survey_provider_register(services.WidgetSurveys())
