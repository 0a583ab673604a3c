"""The rating page a survey link opens (no login, the customer's language): a valid link rates, the
same link changes the rating for 7 days, and an expired, forged or too-late link gets a clear
page with a 4xx, never a 500."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from conversations.models import Conversation
from tests.workflows.csat_helpers import chat_of_agent, conversation_on, drain, resolve, settings_for
from timeline.models import Contact, TimelineEvent
from workflows.surveys import services
from workflows.surveys.links import SALT, survey_token, survey_url
from workflows.surveys.models import Survey, SurveyState

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey() -> Survey:
    """An email conversation's survey, sent (its link is what the email carried)."""
    settings_for("email", min_days_between=0)
    conversation = conversation_on("email", language="es")
    resolve(conversation, chat_of_agent()[1])
    drain()
    survey = Survey.objects.get(conversation=conversation)
    Survey.objects.filter(pk=survey.pk).update(state=SurveyState.SENT, sent_at=timezone.now())
    survey.refresh_from_db()
    return survey


def page(token: str) -> str:
    return reverse("survey-rate", kwargs={"token": token})


def test_the_link_is_absolute_and_opens_the_question_in_the_customers_language(survey, settings):
    settings.DESK_PUBLIC_URL = "https://desk.example.com"
    assert survey_url(survey).startswith("https://desk.example.com/survey/rate/")

    response = Client().get(page(survey_token(survey)))

    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="es"' in html
    assert 'data-testid="survey-form"' in html and 'value="5"' in html
    assert "¿Qué tan satisfecho estás con la ayuda que recibiste?" in html and "5 - Muy satisfecho" in html


def test_a_valid_link_rates_and_the_same_link_changes_the_rating_within_seven_days(survey):
    client, url = Client(), page(survey_token(survey))

    first = client.post(url, {"score": "2", "comment": "Lento"})
    second = client.post(url, {"score": "4", "comment": "Mejor de lo que dije"})

    assert first.status_code == 200 and 'data-testid="survey-thanks"' in first.content.decode()
    assert second.status_code == 200
    survey.refresh_from_db()
    assert (survey.score, survey.comment) == (4, "Mejor de lo que dije")
    assert Conversation.objects.get(pk=survey.conversation_id).rating == 4
    assert TimelineEvent.objects.filter(kind="rating.given", contact_id=survey.contact_id).count() == 2
    assert Contact.objects.get(pk=survey.contact_id).last_rating == 4


def test_a_bad_score_is_a_form_error_not_a_500(survey):
    response = Client().post(page(survey_token(survey)), {"score": "9"})

    assert response.status_code == 400
    assert 'data-testid="survey-errors"' in response.content.decode()
    survey.refresh_from_db()
    assert survey.score is None


def test_a_link_reused_after_the_change_window_gets_a_clear_page(survey):
    url = page(survey_token(survey))
    Client().post(url, {"score": "3"})
    Survey.objects.filter(pk=survey.pk).update(rated_at=timezone.now() - timedelta(days=8))

    shown, posted = Client().get(url), Client().post(url, {"score": "5"})

    assert shown.status_code == 410 and posted.status_code == 410
    assert 'data-code="rating_locked"' in posted.content.decode()
    assert 'data-testid="survey-saved-score"' in shown.content.decode()
    survey.refresh_from_db()
    assert survey.score == 3


class _SignedLongAgo(signing.TimestampSigner):
    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time()) - 29 * 24 * 3600)


def test_an_expired_link_gets_a_clear_page(survey):
    token = _SignedLongAgo(salt=SALT).sign_object({"s": survey.pk})

    shown, posted = Client().get(page(token)), Client().post(page(token), {"score": "5"})

    assert shown.status_code == 410 and posted.status_code == 410
    assert 'data-code="link_expired"' in shown.content.decode()
    survey.refresh_from_db()
    assert survey.score is None


@pytest.mark.parametrize("forge", [
    lambda token: token[:-4] + "abcd",  # the signature edited
    lambda token: signing.dumps({"s": 1}, salt="another.salt"),  # signed for something else
    lambda token: signing.dumps({"s": 999999999}, salt=SALT),  # a survey that does not exist
    lambda token: "not-a-token",
    lambda token: "x" * 600,
], ids=["edited", "other-salt", "no-such-survey", "garbage", "too-long"])
def test_a_forged_link_gets_a_clear_page(survey, forge):
    response = Client().post(page(forge(survey_token(survey))), {"score": "1"})

    assert response.status_code == 400
    assert 'data-code="link_invalid"' in response.content.decode()
    survey.refresh_from_db()
    assert survey.score is None


def test_a_link_to_a_survey_withdrawn_by_a_reopening_is_closed(survey):
    Survey.objects.filter(pk=survey.pk).update(state=SurveyState.CANCELLED)

    response = Client().get(page(survey_token(survey)))

    assert response.status_code == 410


def test_the_page_needs_no_login_and_takes_csrf_like_any_form(survey):
    client = Client(enforce_csrf_checks=True)
    form = client.get(page(survey_token(survey)))
    token = form.cookies["csrftoken"].value

    response = client.post(page(survey_token(survey)), {"score": "5", "csrfmiddlewaretoken": token})

    assert response.status_code == 200
    assert services.survey_pending_for_contact(contact_id=survey.contact_id) is None


def test_a_forged_link_is_explained_in_the_browsers_language():
    """No survey, so no customer language: the browser's Accept-Language decides."""
    response = Client().get(page("forged-token"), HTTP_ACCEPT_LANGUAGE="fr-CH,fr;q=0.9,en;q=0.5")

    html = response.content.decode()
    assert response.status_code == 400
    assert '<html lang="fr" dir="ltr">' in html
    assert "Ce lien ne fonctionne pas" in html
    assert escape("Ce lien d'enquête n'est pas valide. Vérifiez que vous l'avez copié en entier.") in html


def test_a_survey_of_no_known_language_opens_in_the_browsers(survey):
    Survey.objects.filter(pk=survey.pk).update(language="")

    html = Client().get(page(survey_token(survey)), HTTP_ACCEPT_LANGUAGE="pl").content.decode()

    assert '<html lang="pl" dir="ltr">' in html
    assert "Jak bardzo jesteś zadowolony z otrzymanej pomocy?" in html
    assert "How satisfied are you" not in html


def test_an_arabic_survey_reads_right_to_left_whatever_the_browser(survey):
    Survey.objects.filter(pk=survey.pk).update(language="ar")

    html = Client().get(page(survey_token(survey)), HTTP_ACCEPT_LANGUAGE="es").content.decode()

    assert '<html lang="ar" dir="rtl">' in html
    assert "How satisfied are you" not in html and "¿Qué tan satisfecho" not in html
