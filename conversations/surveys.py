"""The chat widget's satisfaction survey: the interface conversations defines, which the
survey feature (workflows.surveys, a higher layer) plugs into from its app's ready().

The widget's socket (visitor_consumer.VisitorConsumer) shows the contact's pending survey when it
connects and relays the `chat.survey` frame pushed when one is asked (`push.survey_asked`);
a `rate` frame the visitor sends is handed to the registered provider. Conversations never
imports the provider: without one the widget simply has no survey.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from django.utils.translation import gettext

from supportdesk.errors import DomainError


class SurveyProvider(Protocol):
    def pending(self, *, contact_id: int) -> dict[str, Any] | None:
        """The survey the contact's widget should show now (the `chat.survey` frame's fields
        without `type`), or None."""

    def answer(self, *, contact_id: int, survey_id: Any, score: Any, comment: Any) -> dict[str, Any]:
        """Store the contact's answer (raises DomainError for a bad one); the `rated` frame's
        fields without `type`."""


@dataclass
class _Registry:
    provider: SurveyProvider | None = None


_registry = _Registry()


def survey_provider_register(provider: SurveyProvider) -> None:
    _registry.provider = provider


def survey_pending(*, contact_id: int | None) -> dict[str, Any] | None:
    if _registry.provider is None or contact_id is None:
        return None
    return _registry.provider.pending(contact_id=contact_id)


def survey_answer(*, contact_id: int | None, survey_id: Any, score: Any, comment: Any) -> dict[str, Any]:
    if _registry.provider is None or contact_id is None:
        raise DomainError(gettext("There is no survey to answer."), code="no_survey")
    return _registry.provider.answer(contact_id=contact_id, survey_id=survey_id, score=score, comment=comment)

