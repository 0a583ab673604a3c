"""Satisfaction surveys: asked on resolution, sent when due, answered once (and changed for a while).

The flow, each step idempotent:

1. `surveys_on_status_changes` (an outbox consumer of the timeline's stream, registered in
   the app's ready()) reads each `conversation.status_changed`. A resolution (or a close)
   schedules a survey when the channel's or queue's settings say so (`survey_schedule`); a
   reopening withdraws the one not sent yet. One survey per resolution event (unique).
2. `survey_send` (a task at the due time; a beat sweep catches any lost) sends it: in the chat
   widget (a `chat.survey` frame to the contact's widgets, shown again whenever one connects
   until it is answered) or, for email and messaging, a signed link through the channel
   registry (workflows.registry), with an idempotency key per survey.
3. `survey_answer` stores the rating (the widget and the link page both call it): on the
   survey, on the conversation, as a `rating.given` timeline event, and in the contact's
   statistics (timeline.services.contacts_ratings_refresh, set-based).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from conversations import push
from conversations.models import Conversation, ConversationStatus
from conversations.services import conversation_rating_record
from routing.models import WorkItem
from supportdesk import advisory_locks
from supportdesk.actors import USER_PREFIX
from supportdesk.errors import Conflict, DomainError, NotFound
from timeline import events
from timeline.models import TimelineEvent
from timeline.services.ratings import contacts_ratings_refresh
from workflows.surveys.models import SCORE_MAX, SCORE_MIN, SURVEY_CHANNELS, Survey, SurveySetting, SurveyState

log = logging.getLogger(__name__)

COMMENT_MAX_CHARS = 2000
ASKED_STATES = (SurveyState.SCHEDULED, SurveyState.SENT, SurveyState.ANSWERED)  # count toward "once in N days"
CLOSING_STATUSES = (ConversationStatus.RESOLVED, ConversationStatus.CLOSED)
REOPENED_STATUSES = (ConversationStatus.OPEN, ConversationStatus.PENDING)


class RatingLocked(DomainError):
    code = "rating_locked"
    status_code = 410


# --- settings ------------------------------------------------------------------------------------


def survey_setting_for(*, channel: str, queue_key: str) -> SurveySetting | None:
    """The queue's own row for the channel, else the channel's row for every queue."""
    rows = SurveySetting.objects.filter(channel=channel).select_related("queue")
    chosen = None
    for row in rows:
        if row.queue_id is None and chosen is None:
            chosen = row
        elif row.queue_id is not None and row.queue.key == queue_key:
            return row
    return chosen


# --- 1. scheduling, from the timeline -------------------------------------------------------------


def surveys_on_status_changes(event_ids: list[int]) -> None:
    """The outbox consumer's handler: schedule or withdraw surveys for these timeline events
    (in the drain's transaction; the drain deletes their entries in it, so once each)."""
    status_changes = (TimelineEvent.objects.filter(pk__in=event_ids, subject_type="conversation",
                                                   kind=events.EventKind.CONVERSATION_STATUS_CHANGED)
                      .order_by("id"))
    for event in status_changes:
        status = (event.payload or {}).get("status")
        if status in CLOSING_STATUSES:
            survey_schedule(event=event)
        elif status in REOPENED_STATUSES:
            surveys_withdraw(conversation_id=event.subject_id)


def _is_person(actor: str) -> bool:
    return actor.startswith(USER_PREFIX)


def survey_schedule(*, event: TimelineEvent) -> Survey | None:
    """The survey this resolution asks for, scheduled at resolution + the setting's delay; None
    when the settings, the contact's last survey or the way it was closed say not to ask."""
    conversation = (Conversation.objects.select_related("contact").filter(pk=event.subject_id).first())
    if conversation is None or conversation.channel not in SURVEY_CHANNELS:
        return None
    queue_key = (WorkItem.objects.filter(conversation_id=conversation.pk).order_by("-enqueued_at", "-pk")
                 .values_list("queue__key", flat=True).first()) or ""
    setting = survey_setting_for(channel=conversation.channel, queue_key=queue_key)
    with connection.cursor() as cursor:  # until the drain's transaction ends: one decision at a time
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                       [advisory_locks.SURVEY_PER_CONTACT, advisory_locks.pair_id(conversation.contact_id)])
    why_not = _why_not_ask(conversation=conversation, setting=setting, event=event)
    if why_not:
        log.info("No survey for conversation %s: %s", conversation.pk, why_not)
        return None
    try:
        with transaction.atomic():
            survey = Survey.objects.create(
                conversation=conversation, contact_id=conversation.contact_id, resolution_event_id=event.pk,
                channel=conversation.channel, queue_key=queue_key, agent_id=conversation.assignee_id,
                language=conversation.language or conversation.contact.preferred_language,
                due_at=event.occurred_at + timedelta(seconds=setting.delay_seconds),
            )
    except IntegrityError:  # this resolution asked already (an event handled twice)
        return Survey.objects.filter(resolution_event_id=event.pk).first()
    transaction.on_commit(lambda: _send_at_due_time(survey))
    return survey


def _why_not_ask(*, conversation: Conversation, setting: SurveySetting | None, event: TimelineEvent) -> str:
    if setting is None or not setting.is_enabled:
        return "surveys are off for its channel and queue"
    if not _is_person(event.actor) and not setting.survey_auto_closed:
        return f"closed automatically ({event.actor or 'nobody'})"
    asked = Survey.objects.filter(state__in=ASKED_STATES)
    reask_after = event.occurred_at - timedelta(hours=settings.CSAT_REASK_AFTER_HOURS)
    if asked.filter(conversation_id=conversation.pk, created_at__gte=reask_after).exists():
        return "asked about it within the re-ask pause (it was reopened)"
    days = setting.days_between
    if days and asked.filter(contact_id=conversation.contact_id,
                             created_at__gte=event.occurred_at - timedelta(days=days)).exists():
        return f"the contact was asked within {days} days"
    return ""


def surveys_withdraw(*, conversation_id: int | None) -> int:
    """A reopened conversation: its survey not sent yet is not sent (the next resolution may
    ask); the number withdrawn."""
    return Survey.objects.filter(conversation_id=conversation_id, state=SurveyState.SCHEDULED).update(
        state=SurveyState.CANCELLED)


def _send_at_due_time(survey: Survey) -> None:
    from workflows.surveys import tasks  # tasks import these services

    tasks.survey_send_enqueue(survey.pk, due_at=survey.due_at)


# --- 2. sending ---------------------------------------------------------------------------------------


def survey_texts(language: str) -> dict[str, Any]:
    """What the survey says, in the customer's language (the widget's frame and the link's page)."""
    with translation.override(language or settings.LANGUAGE_CODE):
        return {
            "language": translation.get_language(),
            "question": gettext("How satisfied are you with the help you received?"),
            "scores": [[score, label] for score, label in score_labels().items()],
            "comment_label": gettext("Anything you would like to tell us? (optional)"),
            "submit_label": gettext("Send my rating"),
            "thanks": gettext("Thank you for your rating!"),
        }


def score_labels() -> dict[int, str]:
    """1-5 in words, in the active language."""
    return {1: gettext("1 - Very dissatisfied"), 2: gettext("2 - Dissatisfied"), 3: gettext("3 - Neutral"),
            4: gettext("4 - Satisfied"), 5: gettext("5 - Very satisfied")}


def survey_frame(survey: Survey) -> dict[str, Any]:
    """The `chat.survey` frame's fields (without `type`)."""
    return {"survey_id": survey.pk, "conversation_id": survey.conversation_id, "score": survey.score,
            **survey_texts(survey.language)}


def survey_send(*, survey_id: int, now: datetime | None = None) -> bool:
    """Send a due survey (idempotent: one already sent, withdrawn or not due yet is left as it
    is). Whether it was sent now."""
    now = now or timezone.now()
    with transaction.atomic():
        survey = (Survey.objects.select_for_update(of=("self",)).select_related("contact", "conversation")
                  .filter(pk=survey_id, state=SurveyState.SCHEDULED, due_at__lte=now).first())
        if survey is None:
            return False
        if survey.channel == "chat":
            push.survey_asked(contact_id=survey.contact_id, survey=survey_frame(survey))
            reference, error = f"widget:{survey.pk}", ""
        else:
            reference, error = _link_send(survey)
        survey.state = SurveyState.SENT if not error else SurveyState.FAILED
        survey.sent_at, survey.sent_reference, survey.error = now, reference, error
        survey.save(update_fields=["state", "sent_at", "sent_reference", "error"])
        if not error:
            events.survey_sent_event(contact_id=survey.contact_id, conversation_id=survey.conversation_id,
                                     survey_id=survey.pk, channel=survey.channel, occurred_at=now)
    return not error


def _link_send(survey: Survey) -> tuple[str, str]:
    """(the channel's reference, "") or ("", why it could not be sent). The idempotency key
    is the survey's: a send retried after a crash is recognised by the channel."""
    from workflows import registry
    from workflows.surveys.links import survey_url
    from workflows.templates import Rendered

    available = registry.channels()
    # Messaging falls back to email while no messaging provider is plugged in.
    name = next((name for name in (survey.channel, "email") if name in available), None)
    if name is None:
        return "", f"No channel can send a {survey.channel} survey (none registered)."
    if name == "email" and not survey.contact.email:
        return "", "The contact has no email address."
    with translation.override(survey.language or settings.LANGUAGE_CODE):
        language = translation.get_language()
        subject = gettext("How did we do?")
        greeting = (gettext("Hello %(name)s,") % {"name": survey.contact.name} if survey.contact.name
                    else gettext("Hello,"))
        body = greeting + "\n\n" + gettext(
            "Your conversation with us has been resolved. How satisfied are you with the help you "
            "received? It takes one click:\n\n%(url)s\n\nYou can change your rating for %(change_days)s "
            "days; the link works for %(link_days)s days.\n\nThank you!"
        ) % {"url": survey_url(survey), "change_days": settings.CSAT_CHANGE_DAYS,
             "link_days": settings.CSAT_LINK_MAX_AGE_DAYS}
    rendered = Rendered(language=language, subject=subject, body=body)
    try:
        reference = available[name].send(
            survey.contact, rendered, idempotency_key=f"csat-survey-{survey.pk}",
            context={"survey_id": survey.pk, "conversation_id": survey.conversation_id})
    except Exception as exc:  # the channel's own failure: recorded on the survey, not retried for ever
        log.warning("Survey %s could not be sent on %s", survey.pk, name, exc_info=True)
        return "", f"{type(exc).__name__}: {exc}"[:2000]
    return str(reference or ""), ""


def surveys_send_due(*, limit: int = 500, now: datetime | None = None) -> int:
    """Send every survey whose time has come (the beat's safety net for lost tasks)."""
    now = now or timezone.now()
    due = list(Survey.objects.filter(state=SurveyState.SCHEDULED, due_at__lte=now)
               .order_by("due_at").values_list("pk", flat=True)[:limit])
    return sum(survey_send(survey_id=survey_id, now=now) for survey_id in due)


# --- 3. answering --------------------------------------------------------------------------------------


def check_score(score: Any) -> int:
    # ASCII digits only: "²".isdigit() is true and int("²") fails; "٣" is not a widget's score.
    if isinstance(score, str) and score.strip().isascii() and score.strip().isdigit():
        score = int(score.strip())
    if not isinstance(score, int) or isinstance(score, bool) or not SCORE_MIN <= score <= SCORE_MAX:
        raise DomainError(gettext("Choose a rating from %(min)s to %(max)s.")
                          % {"min": SCORE_MIN, "max": SCORE_MAX}, code="invalid_score")
    return score


def check_comment(comment: Any) -> str:
    if comment is None:
        return ""
    if not isinstance(comment, str):
        raise DomainError(gettext("The comment must be text."), code="invalid_comment")
    if "\x00" in comment:  # PostgreSQL's text cannot hold it: a DataError, not an answer
        raise DomainError(gettext("The comment must be text."), code="invalid_comment")
    if len(comment) > COMMENT_MAX_CHARS:
        raise DomainError(gettext("A comment may have at most %(max)s characters.") % {"max": COMMENT_MAX_CHARS},
                          code="invalid_comment")
    return comment.strip()


def may_change(survey: Survey, *, now: datetime | None = None) -> bool:
    """A rating may be given, or changed for CSAT_CHANGE_DAYS after it was first given."""
    if survey.rated_at is None:
        return True
    return (now or timezone.now()) < survey.rated_at + timedelta(days=settings.CSAT_CHANGE_DAYS)


def survey_answer(*, survey_id: int, score: Any, comment: Any = "", contact_id: int | None = None,
                  now: datetime | None = None) -> Survey:
    """Store the contact's rating. Given again the same, nothing changes (a retried submit);
    different, within the change window, it replaces the first (a new timeline event, the
    statistics recomputed); after the window, RatingLocked. `contact_id`: the caller speaks for
    this contact only (the widget); a link names its survey itself."""
    score, comment = check_score(score), check_comment(comment)
    now = now or timezone.now()
    with transaction.atomic():
        survey = Survey.objects.select_for_update().filter(pk=survey_id).first()
        if survey is None or (contact_id is not None and survey.contact_id != contact_id):
            raise NotFound(gettext("There is no such survey."), code="no_survey")
        if survey.state not in (SurveyState.SENT, SurveyState.ANSWERED):
            raise Conflict(gettext("This survey is no longer open."), code="survey_closed")
        if survey.sent_at and now >= survey.sent_at + timedelta(days=settings.CSAT_LINK_MAX_AGE_DAYS):
            raise RatingLocked(gettext("This survey has expired."), code="survey_expired")
        if survey.score == score and survey.comment == comment:
            return survey
        if not may_change(survey, now=now):
            raise RatingLocked(gettext("This rating can no longer be changed: ratings can be changed for "
                                       "%(days)s days.") % {"days": settings.CSAT_CHANGE_DAYS})
        changed = survey.rated_at is not None
        survey.score, survey.comment, survey.state = score, comment, SurveyState.ANSWERED
        survey.rated_at = survey.rated_at or now
        survey.changed_at = now
        survey.save(update_fields=["score", "comment", "state", "rated_at", "changed_at"])
        conversation_rating_record(conversation_id=survey.conversation_id, score=score, comment=comment,
                                   rated_at=now)
        events.rating_given_event(
            contact_id=survey.contact_id, conversation_id=survey.conversation_id, survey_id=survey.pk,
            score=score, comment=comment, channel=survey.channel, rated_at=survey.rated_at, changed=changed,
            occurred_at=now, actor="contact")
        contacts_ratings_refresh(contact_ids=[survey.contact_id], now=now)
    return survey


# --- the widget's side (conversations.surveys' provider) ---------------------------------------------


def survey_pending_for_contact(*, contact_id: int, now: datetime | None = None) -> Survey | None:
    """The chat survey the contact's widget shows: sent, not answered, not expired."""
    now = now or timezone.now()
    return (Survey.objects.filter(contact_id=contact_id, channel="chat", state=SurveyState.SENT,
                                  sent_at__gt=now - timedelta(days=settings.CSAT_LINK_MAX_AGE_DAYS))
            .order_by("-sent_at", "-pk").first())


class WidgetSurveys:
    """Plugged into conversations.surveys: what the widget's socket shows and stores."""

    def pending(self, *, contact_id: int) -> dict[str, Any] | None:
        survey = survey_pending_for_contact(contact_id=contact_id)
        return survey_frame(survey) if survey is not None else None

    def answer(self, *, contact_id: int, survey_id: Any, score: Any, comment: Any) -> dict[str, Any]:
        if not isinstance(survey_id, int) or isinstance(survey_id, bool) or not 1 <= survey_id < 2**63:
            raise DomainError(gettext("survey_id must be the survey's id."), code="invalid_survey_id")
        survey = survey_answer(survey_id=survey_id, score=score, comment=comment, contact_id=contact_id)
        with translation.override(survey.language or settings.LANGUAGE_CODE):
            thanks = gettext("Thank you for your rating!")
        return {"survey_id": survey.pk, "conversation_id": survey.conversation_id, "score": survey.score,
                "thanks": thanks}
