"""The widget's `rate` frame hands raw JSON values to the surveys' provider: every bad value is a
DomainError (an error frame), never an exception that becomes 'server_error'."""

from __future__ import annotations

import pytest
from django.utils import timezone

from conversations import surveys as widget_surveys
from supportdesk.errors import DomainError
from tests.factories import ContactFactory, ConversationFactory
from workflows.surveys.models import Survey, SurveyState

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey() -> Survey:
    contact = ContactFactory(preferred_language="es")
    now = timezone.now()
    return Survey.objects.create(
        conversation=ConversationFactory(contact=contact, channel="chat"),
        contact=contact,
        resolution_event_id=1,
        channel="chat",
        queue_key="chat",
        language="es",
        state=SurveyState.SENT,
        due_at=now,
        sent_at=now,
    )


@pytest.mark.parametrize(
    "score, comment",
    [
        ("²", ""),
        ("٣", ""),
        ("5", "a\x00b"),
        (5.5, ""),
        (None, ""),
        (99, ""),
        (True, ""),
        ({"a": 1}, ""),
        (4, "x" * 1_000_000),
        (4, 12),
    ],
)
def test_a_bad_answer_is_a_domain_error_and_stores_nothing(survey, score, comment):
    with pytest.raises(DomainError):
        widget_surveys.survey_answer(
            contact_id=survey.contact_id, survey_id=survey.pk, score=score, comment=comment
        )

    survey.refresh_from_db()
    assert survey.score is None and survey.state == SurveyState.SENT


def test_another_contacts_survey_cannot_be_answered(survey):
    with pytest.raises(DomainError):
        widget_surveys.survey_answer(contact_id=ContactFactory().pk, survey_id=survey.pk, score=5, comment="")
    survey.refresh_from_db()
    assert survey.score is None


def test_a_good_answer_is_stored(survey):
    rated = widget_surveys.survey_answer(
        contact_id=survey.contact_id, survey_id=survey.pk, score="4", comment=" ok "
    )
    survey.refresh_from_db()
    assert rated["score"] == 4 and (survey.score, survey.comment) == (4, "ok")
