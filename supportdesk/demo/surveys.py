"""Satisfaction surveys in the demo: asked on every channel that can carry one (the chat
widget at once, email and messaging by a link a minute later), once a week per contact.
Existing rows keep a supervisor's edits."""

from __future__ import annotations

from workflows.surveys.models import SurveySetting

SURVEY_SETTINGS = (  # (channel, delay in seconds)
    ("chat", 0),
    ("email", 60),
    ("messaging", 60),
)


def demo_surveys_ensure() -> None:
    for channel, delay_seconds in SURVEY_SETTINGS:
        SurveySetting.objects.get_or_create(channel=channel, queue=None,
                                            defaults={"is_enabled": True, "delay_seconds": delay_seconds})
