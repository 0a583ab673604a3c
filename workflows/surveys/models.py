"""Survey settings (per channel, optionally per queue) and the surveys asked."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from conversations.models import Channel
from routing.models import Queue

# Channels a survey can reach: the widget, or a link sent on the conversation's channel.
SURVEY_CHANNELS = (Channel.CHAT, Channel.EMAIL, Channel.MESSAGING)
SCORE_MIN, SCORE_MAX = 1, 5


class SurveySetting(models.Model):
    """Whether and when to ask, for a channel (queue empty: every queue of it) or for one
    queue of it (wins over the channel's row)."""

    channel = models.CharField(_("channel"), max_length=16,
                               choices=[(value, label) for value, label in Channel.choices
                                        if value in SURVEY_CHANNELS])
    queue = models.ForeignKey(Queue, verbose_name=_("queue"), null=True, blank=True,
                              on_delete=models.CASCADE, related_name="survey_settings",
                              help_text=_("Empty: every queue of the channel without a row of its own."))
    is_enabled = models.BooleanField(_("enabled"), default=True)
    delay_seconds = models.PositiveIntegerField(
        _("delay (seconds)"), default=0, validators=[MaxValueValidator(7 * 24 * 3600)],
        help_text=_("How long after the resolution the survey is sent."))
    survey_auto_closed = models.BooleanField(
        _("survey automatically closed conversations"), default=False,
        help_text=_("Ask also when nobody resolved it (closed for inactivity or by a workflow)."))
    min_days_between = models.PositiveSmallIntegerField(
        _("ask a contact at most once in (days)"), null=True, blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(365)],
        help_text=_("Empty: the desk's default (CSAT_MIN_DAYS_BETWEEN)."))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("survey setting")
        verbose_name_plural = _("survey settings")
        ordering = ["channel", "queue__key"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "queue"], name="survey_setting_channel_queue"),
            models.UniqueConstraint(fields=["channel"], condition=Q(queue__isnull=True),
                                    name="survey_setting_channel_default"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} · {self.queue.key if self.queue_id else _('every queue')}"

    @property
    def days_between(self) -> int:
        return settings.CSAT_MIN_DAYS_BETWEEN if self.min_days_between is None else self.min_days_between


class SurveyState(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    SENT = "sent", _("Sent")
    ANSWERED = "answered", _("Answered")
    CANCELLED = "cancelled", _("Cancelled")  # reopened before it was sent
    FAILED = "failed", _("Failed")  # no way to reach the contact


class Survey(models.Model):
    """One question asked after one resolution, and its answer (a rating 1-5 and a comment).

    Who and what it was about is copied at resolution (agent, queue, channel, language), so
    the ratings list filters without joins and keeps its meaning when the conversation moves on."""

    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE,
                                     related_name="surveys")
    contact = models.ForeignKey("timeline.Contact", on_delete=models.CASCADE, related_name="surveys")
    # The timeline event (conversation.status_changed) that asked for it: one survey per resolution.
    resolution_event_id = models.BigIntegerField(unique=True)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    queue_key = models.CharField(max_length=100, blank=True)
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    language = models.CharField(max_length=16, blank=True)
    state = models.CharField(max_length=16, choices=SurveyState.choices, default=SurveyState.SCHEDULED)
    created_at = models.DateTimeField(auto_now_add=True)
    due_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    sent_reference = models.CharField(max_length=255, blank=True,
                                      help_text=_("The channel's id for what was sent."))
    error = models.TextField(blank=True)
    score = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(SCORE_MIN), MaxValueValidator(SCORE_MAX)])
    comment = models.TextField(blank=True)
    rated_at = models.DateTimeField(null=True, blank=True, help_text=_("When it was first answered."))
    changed_at = models.DateTimeField(null=True, blank=True, help_text=_("When the answer last changed."))

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(score__isnull=True) | Q(score__gte=SCORE_MIN, score__lte=SCORE_MAX),
                                   name="survey_score_range"),
        ]
        indexes = [
            models.Index(fields=["due_at"], name="survey_due", condition=Q(state="scheduled")),
            models.Index(fields=["contact", "-created_at"], name="survey_contact_newest"),
            models.Index(fields=["conversation", "-created_at"], name="survey_conversation_newest"),
            models.Index(fields=["-rated_at"], name="survey_rated_newest", condition=Q(score__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"survey {self.pk} of conversation {self.conversation_id} ({self.state})"
