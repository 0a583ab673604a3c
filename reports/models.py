"""The reports' read side: facts per conversation and work item, counters per hour.

A *fact* is what one conversation (or one work item, or one change of an agent's presence)
contributes to the reports, worked out from the raw records by `reports.facts`. The
counters per hour and dimension (`HourRollup`, `AgentHourRollup`) are the sums of the
facts' contributions (`reports.contributions`). The worker keeps them up to date from the
events the desk writes (`reports.rollups`): when something happens to a conversation its
facts are worked out again and only the difference to what they contributed before is
added. So an event seen twice changes nothing the second time, and a late event (a rating a
day later, a reopen) moves the figures of the hour they belong to. Reports read the
counters, never the raw conversations.

Ranges of days read the same counters summed per day in the desk's time zone (`DayRollup`,
`AgentDayRollup`), and the hour-of-the-week chart the counters per hour with no dimension
(`HourTotalRollup`): each changes with its hour's rows, in the same statement batch, and is
worked out from them again by a rebuild (`reports.rollups.days_recount`).

Dimensions that may be empty are stored as 0 (no queue, no agent) or "" (no reason), not
NULL, so each combination is one row under a plain unique constraint.
"""

from __future__ import annotations

from django.db import models


class ConversationFact(models.Model):
    """What one conversation contributes (reports.facts.conversation_facts)."""

    conversation_id = models.BigIntegerField(primary_key=True)
    queue_id = models.IntegerField(default=0)
    channel = models.CharField(max_length=16)
    language = models.CharField(max_length=16)
    contact_kind = models.CharField(max_length=16)
    contact_reason = models.CharField(max_length=64)
    agent_id = models.IntegerField(default=0, help_text="The agent who held it last (0: none).")
    contact_id = models.BigIntegerField()
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True)
    closed_at = models.DateTimeField(null=True, help_text="Closed unresolved (the contact left, a call hung up).")
    first_reply_seconds = models.FloatField(null=True)
    next_reply_count = models.IntegerField(default=0)
    next_reply_seconds = models.FloatField(default=0)
    handle_seconds = models.FloatField(default=0)
    reopened = models.BooleanField(default=False)
    agents = models.SmallIntegerField(default=0, help_text="Distinct agents who held it.")
    fcr = models.BooleanField(default=False)
    surveyed = models.BooleanField(default=False)
    rating = models.SmallIntegerField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["contact_id", "resolved_at"], name="report_conv_contact"),
            models.Index(fields=["created_at"], name="report_conv_created"),
            models.Index(fields=["resolved_at"], name="report_conv_resolved"),
            # The backlog now: conversations neither resolved nor closed.
            models.Index(fields=["queue_id"], name="report_conv_open",
                         condition=models.Q(resolved_at__isnull=True, closed_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"conversation {self.conversation_id}"


class ItemFact(models.Model):
    """What one work item contributes: its wait and how it ended, and per agent the offers,
    declines, misses and the spans they held it (reports.facts.item_facts)."""

    item_id = models.BigIntegerField(primary_key=True)
    conversation_id = models.BigIntegerField()
    queue_id = models.IntegerField(default=0)
    channel = models.CharField(max_length=16)
    language = models.CharField(max_length=16)
    contact_kind = models.CharField(max_length=16)
    contact_reason = models.CharField(max_length=64)
    enqueued_at = models.DateTimeField()
    # open (still waiting or held, never answered), answered, abandoned (the contact left
    # first), closed (ended unanswered by the desk: not counted in service level).
    outcome = models.CharField(max_length=12)
    wait_seconds = models.FloatField(default=0)
    target_seconds = models.IntegerField(default=0)
    # [[agent_id, "offer" | "declined" | "missed", epoch seconds], ...]
    agent_events = models.JSONField(default=list)
    # [[agent_id, start epoch, end epoch], ...]: the spans each agent held it (ended ones).
    held = models.JSONField(default=list)

    class Meta:
        indexes = [
            models.Index(fields=["conversation_id"], name="report_item_conversation"),
            models.Index(fields=["enqueued_at"], name="report_item_enqueued"),
        ]

    def __str__(self) -> str:
        return f"item {self.item_id}"


class PresenceFact(models.Model):
    """One agent's stretch in one presence, from a change to the next (reports.facts)."""

    change_id = models.BigIntegerField(primary_key=True)
    agent_id = models.IntegerField()
    presence = models.CharField(max_length=16)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, help_text="Empty while it lasts (not counted yet).")

    def __str__(self) -> str:
        return f"agent {self.agent_id} {self.presence} from {self.started_at:%Y-%m-%d %H:%M}"


# The counters of HourRollup, by what they count (reports.contributions fills them).
ITEM_COUNTERS = ("arrived", "answered", "answered_in_target", "abandoned", "abandoned_short",
                 "missed_target", "answer_wait_sum", "abandon_wait_sum")
CREATED_COUNTERS = ("created", "first_reply_count", "first_reply_sum")
CLOSED_COUNTERS = ("closed",)  # closed unresolved: with "resolved", what leaves the backlog
RESOLVED_COUNTERS = ("resolved", "resolution_sum", "handle_sum", "reopened", "fcr",
                     "next_reply_count", "next_reply_sum", "surveyed", "rated", "rating_sum",
                     "rating_positive")
HOUR_COUNTERS = ITEM_COUNTERS + CREATED_COUNTERS + CLOSED_COUNTERS + RESOLVED_COUNTERS
HOUR_DIMENSIONS = ("queue_id", "channel", "language", "contact_kind", "contact_reason")

AGENT_COUNTERS = ("offers", "declined", "missed", "answered", "held_seconds", "resolved",
                  "handle_sum", "fcr", "rated", "rating_sum", "rating_positive",
                  "online_seconds", "away_seconds", "offline_seconds")
AGENT_DIMENSIONS = ("agent_id", "queue_id", "channel")


def _counter_fields(names: tuple[str, ...]) -> dict[str, models.Field]:
    return {name: (models.FloatField(default=0) if name.endswith(("_sum", "_seconds"))
                   else models.BigIntegerField(default=0)) for name in names}


class _WorkCounters(models.Model):
    """The dimensions and counters of the work: per hour (HourRollup) and per day (DayRollup)."""

    queue_id = models.IntegerField(default=0)
    channel = models.CharField(max_length=16)
    language = models.CharField(max_length=16)
    contact_kind = models.CharField(max_length=16)
    contact_reason = models.CharField(max_length=64)
    # The longest wait of an item that ended (answered or abandoned): only ever raised, as an
    # ended item's wait does not change, except when a fact's removal asks for it to be worked
    # out again (reports.counters); a rebuild works it out afresh.
    wait_max = models.FloatField(default=0)
    locals().update(_counter_fields(HOUR_COUNTERS))

    class Meta:
        abstract = True


class _AgentCounters(models.Model):
    """The dimensions and counters of an agent: per hour and per day (presence: queue 0,
    channel "")."""

    agent_id = models.IntegerField()
    queue_id = models.IntegerField(default=0)
    channel = models.CharField(max_length=16)
    locals().update(_counter_fields(AGENT_COUNTERS))

    class Meta:
        abstract = True


class HourRollup(_WorkCounters):
    """Counters per hour (UTC) and queue, channel, language, contact kind, contact reason."""

    hour = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", *HOUR_DIMENSIONS], name="report_hour_key")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00} queue {self.queue_id} {self.channel} {self.language}"


class AgentHourRollup(_AgentCounters):
    """Counters per hour (UTC), agent, queue and channel."""

    hour = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", *AGENT_DIMENSIONS], name="report_agent_hour_key")]
        indexes = [models.Index(fields=["agent_id", "hour"], name="report_agent_hour_agent")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00} agent {self.agent_id} queue {self.queue_id} {self.channel}"


class DayRollup(_WorkCounters):
    """HourRollup's rows summed per day in the desk's time zone (settings.TIME_ZONE): a day is
    the hours that start on it there. What reports of ranges of days read."""

    day = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", *HOUR_DIMENSIONS], name="report_day_key")]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} queue {self.queue_id} {self.channel} {self.language}"


class AgentDayRollup(_AgentCounters):
    """AgentHourRollup's rows summed per day in the desk's time zone."""

    day = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", *AGENT_DIMENSIONS], name="report_agent_day_key")]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} agent {self.agent_id} queue {self.queue_id} {self.channel}"


class HourTotalRollup(models.Model):
    """HourRollup's rows summed per hour over every dimension: the hour of the week, unfiltered."""

    hour = models.DateTimeField(unique=True)
    locals().update(_counter_fields(HOUR_COUNTERS))

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00}"
