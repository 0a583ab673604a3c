"""Satisfaction surveys: who is asked when (settings per channel and queue, the delay, once in N
days, not after an automatic close, not again after a reopening within a day), how they are
sent (a signed link through the channel registry), and what an answer leaves behind (the
conversation's rating, a timeline event, the contact's figures, routing's attributes)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from conversations.models import Conversation
from conversations.services import routing_attributes
from supportdesk.errors import DomainError
from tests.factories import ContactFactory
from tests.workflows.csat_helpers import (
    RecordingChannel,
    chat_of_agent,
    conversation_on,
    drain,
    reopen,
    resolve,
    settings_for,
)
from timeline.models import Contact, TimelineEvent
from timeline.services import contact_merge
from timeline.services.ratings import contacts_ratings_refresh
from workflows import registry
from workflows.surveys import services
from workflows.surveys.models import Survey, SurveyState

pytestmark = pytest.mark.django_db


@pytest.fixture
def email_channel():
    """A recording "email" channel in place of whatever is registered, put back afterwards."""
    before = registry.channels().get("email")
    channel = RecordingChannel()
    registry.channel_register("email", label="Email", send=channel.send)
    yield channel
    if before is not None:
        registry.channel_register("email", label=before.label, send=before.send)
    else:
        registry._channels.pop("email", None)


# --- when a survey is asked ----------------------------------------------------------------------------


def test_a_chat_resolved_by_its_agent_schedules_a_survey_after_the_settings_delay():
    settings_for("chat", delay_seconds=120)
    conversation, agent = chat_of_agent()

    resolve(conversation, agent)
    drain()

    survey = Survey.objects.get(conversation=conversation)
    resolved = TimelineEvent.objects.get(pk=survey.resolution_event_id)
    assert survey.state == SurveyState.SCHEDULED and resolved.payload["status"] == "resolved"
    assert survey.due_at == resolved.occurred_at + timedelta(seconds=120)
    assert survey.agent_id == agent.pk and survey.queue_key == "general" and survey.language == "es"
    assert services.survey_send(survey_id=survey.pk) is False  # not due yet
    assert services.survey_send(survey_id=survey.pk, now=survey.due_at) is True
    survey.refresh_from_db()
    assert survey.state == SurveyState.SENT and survey.sent_at == survey.due_at


def test_draining_twice_asks_once():
    settings_for("chat")
    conversation, agent = chat_of_agent()
    resolve(conversation, agent)

    drain()
    drain()

    assert Survey.objects.filter(conversation=conversation).count() == 1


def test_no_setting_or_a_disabled_one_asks_nothing():
    conversation, agent = chat_of_agent()
    resolve(conversation, agent)
    drain()
    assert not Survey.objects.exists()

    settings_for("chat", is_enabled=False)
    other, other_agent = chat_of_agent()
    resolve(other, other_agent)
    drain()
    assert not Survey.objects.exists()


def test_a_queues_own_setting_wins_over_its_channels():
    settings_for("chat", delay_seconds=0)
    settings_for("chat", queue="general", is_enabled=False)
    conversation, agent = chat_of_agent()

    resolve(conversation, agent)
    drain()

    assert services.survey_setting_for(channel="chat", queue_key="general").is_enabled is False
    assert services.survey_setting_for(channel="chat", queue_key="vip").is_enabled is True
    assert not Survey.objects.exists()


def test_a_conversation_closed_automatically_is_not_surveyed_unless_the_setting_says_so():
    settings_for("chat")
    closed_by_nobody, _agent = chat_of_agent()
    resolve(closed_by_nobody, None)  # inactivity, a workflow: no person resolved it
    drain()
    assert not Survey.objects.exists()

    settings_for("chat", survey_auto_closed=True)
    second, _agent = chat_of_agent()
    resolve(second, None)
    drain()
    assert Survey.objects.filter(conversation=second).exists()


def test_a_contact_is_asked_at_most_once_in_n_days():
    settings_for("chat", min_days_between=7)
    contact = ContactFactory()
    first, agent = chat_of_agent(contact=contact)
    resolve(first, agent)
    drain()
    second, other_agent = chat_of_agent(contact=contact)
    resolve(second, other_agent)
    drain()

    assert list(Survey.objects.values_list("conversation_id", flat=True)) == [first.pk]

    # Eight days later, the next resolution asks again.
    Survey.objects.update(created_at=timezone.now() - timedelta(days=8))
    third, third_agent = chat_of_agent(contact=contact)
    resolve(third, third_agent)
    drain()
    assert Survey.objects.filter(conversation=third).exists()


def test_each_resolution_may_ask_when_the_setting_allows_every_day():
    settings_for("chat", min_days_between=0)
    contact = ContactFactory()
    for _ in range(2):
        conversation, agent = chat_of_agent(contact=contact)
        resolve(conversation, agent)
    drain()

    assert Survey.objects.filter(contact=contact).count() == 2


def test_a_reopened_conversation_loses_its_unsent_survey_and_its_next_resolution_asks():
    settings_for("chat", delay_seconds=600, min_days_between=0)
    conversation, agent = chat_of_agent()
    resolve(conversation, agent)
    drain()

    reopen(conversation, agent)
    drain()
    resolve(conversation, agent)
    drain()

    states = list(Survey.objects.order_by("pk").values_list("state", flat=True))
    assert states == [SurveyState.CANCELLED, SurveyState.SCHEDULED]


def test_a_reopened_conversation_is_not_asked_again_within_a_day():
    settings_for("chat", min_days_between=0)
    conversation, agent = chat_of_agent()
    resolve(conversation, agent)
    drain()
    services.surveys_send_due()

    reopen(conversation, agent)
    resolve(conversation, agent)
    drain()
    assert Survey.objects.filter(conversation=conversation).count() == 1

    Survey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    reopen(conversation, agent)
    resolve(conversation, agent)
    drain()
    assert Survey.objects.filter(conversation=conversation).count() == 2


# --- sending a link ----------------------------------------------------------------------------------------


def test_an_email_conversation_gets_a_signed_link_in_its_language_through_the_channel(email_channel):
    settings_for("email")
    conversation = conversation_on("email", language="es")
    resolve(conversation, chat_of_agent()[1])
    drain()

    assert services.surveys_send_due() == 1
    survey = Survey.objects.get(conversation=conversation)
    [sent] = email_channel.sent
    assert sent["key"] == f"csat-survey-{survey.pk}" and sent["survey_id"] == survey.pk
    assert sent["rendered"].language == "es" and sent["rendered"].subject == "¿Qué tal lo hicimos?"
    assert "/survey/rate/" in sent["rendered"].body
    assert survey.state == SurveyState.SENT and survey.sent_reference == f"<csat-survey-{survey.pk}@test>"
    assert services.surveys_send_due() == 0  # sent once


def test_a_messaging_conversation_falls_back_to_email_and_a_failure_is_recorded(email_channel):
    settings_for("messaging")
    email_channel.fail = True
    conversation = conversation_on("messaging")
    resolve(conversation, chat_of_agent()[1])
    drain()

    services.surveys_send_due()

    survey = Survey.objects.get(conversation=conversation)
    assert survey.state == SurveyState.FAILED and "did not answer" in survey.error


def test_a_contact_without_email_is_not_sent_a_link(email_channel):
    settings_for("email")
    conversation = conversation_on("email", contact=ContactFactory(email=""))
    resolve(conversation, chat_of_agent()[1])
    drain()

    services.surveys_send_due()

    assert email_channel.sent == []
    assert Survey.objects.get().state == SurveyState.FAILED


# --- answers -----------------------------------------------------------------------------------------------


def sent_survey(**settings_fields) -> Survey:
    settings_for("chat", min_days_between=0, **settings_fields)
    conversation, agent = chat_of_agent()
    resolve(conversation, agent)
    drain()
    services.surveys_send_due()
    return Survey.objects.get(conversation=conversation)


def test_an_answer_is_kept_on_the_survey_the_conversation_the_timeline_and_the_contact():
    survey = sent_survey()

    services.survey_answer(survey_id=survey.pk, score=2, comment="  Tardaron mucho  ")

    survey.refresh_from_db()
    conversation = Conversation.objects.get(pk=survey.conversation_id)
    contact = Contact.objects.get(pk=survey.contact_id)
    [event] = TimelineEvent.objects.filter(contact=contact, kind="rating.given")
    assert (survey.state, survey.score, survey.comment) == (SurveyState.ANSWERED, 2, "Tardaron mucho")
    assert (conversation.rating, conversation.rating_comment) == (2, "Tardaron mucho")
    assert event.subject_id == conversation.pk
    assert (event.payload["score"], event.payload["changed"]) == (2, False)
    assert (contact.last_rating, contact.rating_count, contact.rating_avg_90d) == (2, 1, Decimal("2.00"))
    assert routing_attributes(conversation)["last_rating"] == 2
    assert routing_attributes(conversation)["rating_avg_90d"] == "2.00"


def test_the_same_answer_again_changes_nothing_and_a_new_one_replaces_it_within_seven_days():
    survey = sent_survey()
    services.survey_answer(survey_id=survey.pk, score=2)
    services.survey_answer(survey_id=survey.pk, score=2)  # a retried submit
    assert TimelineEvent.objects.filter(kind="rating.given").count() == 1

    services.survey_answer(survey_id=survey.pk, score=5, comment="Al final bien",
                           now=timezone.now() + timedelta(days=6))

    contact = Contact.objects.get(pk=survey.contact_id)
    assert TimelineEvent.objects.filter(kind="rating.given").count() == 2
    assert (contact.last_rating, contact.rating_count, contact.rating_avg_90d) == (5, 1, Decimal("5.00"))
    assert Conversation.objects.get(pk=survey.conversation_id).rating == 5


def test_an_answer_cannot_change_after_seven_days():
    survey = sent_survey()
    services.survey_answer(survey_id=survey.pk, score=2)

    with pytest.raises(services.RatingLocked):
        services.survey_answer(survey_id=survey.pk, score=4, now=timezone.now() + timedelta(days=7, seconds=1))

    survey.refresh_from_db()
    assert survey.score == 2


@pytest.mark.parametrize("score", [0, 6, "x", None, True, 2.5])
def test_a_score_outside_1_to_5_is_refused(score):
    survey = sent_survey()

    with pytest.raises(DomainError) as refused:
        services.survey_answer(survey_id=survey.pk, score=score)

    assert refused.value.code == "invalid_score"


def test_a_survey_of_another_contact_is_not_found_for_the_widget():
    survey = sent_survey()

    with pytest.raises(DomainError) as refused:
        services.survey_answer(survey_id=survey.pk, score=4, contact_id=ContactFactory().pk)

    assert refused.value.status_code == 404


# --- the contact's figures ------------------------------------------------------------------------------


def test_the_contacts_average_counts_the_last_90_days_and_follows_changes():
    contact = ContactFactory()
    surveys = []
    for _ in range(3):
        survey = sent_survey()
        Survey.objects.filter(pk=survey.pk).update(contact=contact)
        surveys.append(survey)
    now = timezone.now()
    services.survey_answer(survey_id=surveys[0].pk, score=1, now=now - timedelta(days=100))
    services.survey_answer(survey_id=surveys[1].pk, score=4, now=now - timedelta(days=10))
    services.survey_answer(survey_id=surveys[2].pk, score=2, now=now - timedelta(days=1))

    contact.refresh_from_db()
    assert (contact.rating_count, contact.rating_avg_90d, contact.last_rating) == (3, Decimal("3.00"), 2)

    services.survey_answer(survey_id=surveys[2].pk, score=5, now=now)  # changed within the window
    contact.refresh_from_db()
    assert (contact.rating_count, contact.rating_avg_90d, contact.last_rating) == (3, Decimal("4.50"), 5)

    # Eighty-five days on, only the last one is within 90 days.
    contacts_ratings_refresh(now=now + timedelta(days=85))
    contact.refresh_from_db()
    assert (contact.rating_count, contact.rating_avg_90d) == (3, Decimal("5.00"))
    assert contacts_ratings_refresh(now=now + timedelta(days=85)) == 0  # nothing left to change


def test_merging_contacts_carries_their_ratings_to_the_one_kept():
    survey = sent_survey()
    services.survey_answer(survey_id=survey.pk, score=1)
    rated = Contact.objects.get(pk=survey.contact_id)
    kept = ContactFactory()

    contact_merge(source=rated, target=kept)

    kept.refresh_from_db()
    rated.refresh_from_db()
    assert (kept.last_rating, kept.rating_count, kept.rating_avg_90d) == (1, 1, Decimal("1.00"))
    assert (rated.last_rating, rated.rating_count) == (None, 0)
