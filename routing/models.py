"""Work distribution: queues, rules, agents' routing settings, work items and their history.

Routing is self-contained: a work item points at a conversation by id only, and carries
the plain attributes rules and agents are matched on. Conversations enqueue items and
complete them; routing never imports conversations.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from routing.hours_models import (  # noqa: F401  (defined beside, imported from here)
    BusinessHours,
    Holiday,
    OpeningInterval,
    Weekday,
)
from supportdesk.conditions import OPERATORS

# "task": work that is not a contact's message (a service audit, a workflow's follow-up).
CHANNELS = ("chat", "messaging", "email", "voice", "task")
CONTACT_KINDS = ("customer", "courier", "partner")
# Their names, as the timeline (which routing does not import) calls them, for the admin.
CONTACT_KIND_NAMES = {"customer": _("Customer"), "courier": _("Courier"), "partner": _("Partner")}
DEFAULT_CAPACITY = {"chat": 3, "messaging": 3, "email": 5, "voice": 1, "task": 5}
# Channels added after profiles were saved: a profile without their key takes the default
# (a profile's missing key of the first four channels still means none).
LATER_CHANNELS = ("task",)


def default_capacity() -> dict[str, int]:
    return dict(DEFAULT_CAPACITY)


def _skills_field(help_text: str | Promise) -> ArrayField:
    return ArrayField(models.CharField(max_length=64), default=list, blank=True, help_text=help_text)


class Strategy(models.TextChoices):
    MOST_SPARE_CAPACITY = "most_spare_capacity", _("Most spare capacity (percent)")
    LONGEST_IDLE = "longest_idle", _("Longest idle")
    ROUND_ROBIN = "round_robin", _("Round robin")


class WhileOpen(models.TextChoices):
    """What a new email (a new subject) does while the contact's previous one in this queue is open."""

    JOIN = "join", _("Joins the open conversation")
    LINK = "link", _("Opens a new conversation, linked to the open one")


class Presence(models.TextChoices):
    ONLINE = "online", _("Online")
    AWAY = "away", _("Away")
    OFFLINE = "offline", _("Offline")


class AgentProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile"
    )
    languages = ArrayField(
        models.CharField(max_length=16), default=list, blank=True,
        help_text=_("Languages the agent works in, native first (e.g. es, ca, en)."),
    )
    contact_kinds = ArrayField(
        models.CharField(max_length=16), default=list, blank=True,
        help_text=_("customer, courier, partner"),
    )
    skills = _skills_field(_("Skills such as refunds, vip, fraud. Queues and rules may require them."))
    tier = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(3)],
        help_text=_("1 junior, 2 experienced, 3 senior. A queue may require a minimum tier."),
    )
    capacity = models.JSONField(
        default=default_capacity, blank=True,
        help_text=_('Open items at once per channel, e.g. {"chat": 3, "messaging": 3, "email": 5, "voice": 1}.'),
    )
    presence = models.CharField(max_length=16, choices=Presence.choices, default=Presence.OFFLINE)
    no_chats_on_call = models.BooleanField(
        default=True, db_default=True,
        help_text=_("While on a call (a voice item assigned), take no new chats, messages, emails or tasks."))
    presence_since = models.DateTimeField(null=True, blank=True)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    # Offers let time out in a row; reset by an accept. Too many set the agent away.
    missed_offers = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["presence", "last_heartbeat_at"], name="agent_presence_heartbeat"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({', '.join(self.languages)})"

    def capacity_for(self, channel: str) -> int:
        try:
            default = DEFAULT_CAPACITY[channel] if channel in LATER_CHANNELS else 0
            return max(int(self.capacity.get(channel, default)), 0)
        except (TypeError, ValueError, AttributeError):
            return 0


# The outbox stream of AgentPresenceChange rows (supportdesk.outbox): the layers above (the
# reports' rollups of time in each presence and occupancy) register consumers of it.
PRESENCE_STREAM = "routing.presence"


class PresenceReason(models.TextChoices):
    """Why an agent's presence changed. The column keeps no choices (a plain varchar, as
    `WorkItemEvent.kind`): the one writer, `routing.services.presence.presence_record`,
    writes only these."""

    AGENT = "agent", _("Set by the agent")
    SUPERVISOR = "supervisor", _("Set by a supervisor")
    HEARTBEAT_LOST = "heartbeat_lost", _("Heartbeat lost")
    MISSED_OFFERS = "missed_offers", _("Offers missed in a row")
    DESK = "desk", _("Set by the desk")  # the demo's hand-over of its ongoing conversations
    LOG_START = "log_start", _("Presence log started")  # the row routing 0006 seeded per agent


class AgentPresenceChange(models.Model):
    """One change of an agent's presence, append-only: from `at` the agent was `presence`
    (until their next row), having been `previous` ("" for an agent's first row).

    Written only by `routing.services.presence.presence_record`, in the transaction that
    changes `AgentProfile.presence`, with its outbox entries (`PRESENCE_STREAM`). Time before
    an agent's first row is not known to the log (`routing.selectors.presence_seconds` counts
    none). The rows migration 0006 seeded got no outbox entries: a consumer registered later
    backfills from the table, as supportdesk.outbox says of any late consumer."""

    Reason = PresenceReason

    # The (agent, at, id) index leads with it: no separate index needed.
    agent = models.ForeignKey(AgentProfile, on_delete=models.CASCADE, related_name="presence_changes",
                              db_index=False)
    presence = models.CharField(max_length=16)
    previous = models.CharField(max_length=16, blank=True)
    at = models.DateTimeField()
    reason = models.CharField(max_length=32)

    class Meta:
        # An agent's changes in time order, covering what `presence_seconds` reads (the id
        # orders changes stamped alike): an index-only scan, however the rows lie on the heap.
        indexes = [models.Index(fields=["agent", "at", "id"], include=["presence"],
                                name="agent_presence_change_at")]

    def __str__(self) -> str:
        return f"{self.agent_id}: {self.previous or '-'} to {self.presence} at {self.at:%Y-%m-%d %H:%M:%S}"


class AgentSlot(models.Model):
    """One row per agent, channel, language and contact kind: what the matcher walks.

    Derived from the profile and its open items, rewritten whenever they change, so
    finding the best free agent for an item is one index range read whatever the number
    of agents. The profile's row lock and its items stay the truth for capacity.
    """

    # The unique constraint below leads with the agent: no separate index needed.
    agent = models.ForeignKey(AgentProfile, on_delete=models.CASCADE, related_name="slots",
                              db_index=False)
    channel = models.CharField(max_length=16)
    language = models.CharField(max_length=16)
    contact_kind = models.CharField(max_length=16)
    tier = models.PositiveSmallIntegerField()
    skills = ArrayField(models.CharField(max_length=64), default=list)
    # Online with room on this channel.
    available = models.BooleanField(default=False)
    # Spare capacity on this channel in thousandths of the capacity.
    spare_permille = models.PositiveSmallIntegerField(default=0)
    last_assigned_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "channel", "language", "contact_kind"],
                                    name="agent_slot_unique"),
        ]
        indexes = [
            models.Index(
                "channel", "language", "contact_kind", F("last_assigned_at").asc(nulls_first=True),
                "agent", name="slot_longest_idle", condition=Q(available=True),
            ),
            models.Index(
                "channel", "language", "contact_kind", F("spare_permille").desc(),
                F("last_assigned_at").asc(nulls_first=True), "agent",
                name="slot_most_spare", condition=Q(available=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id}: {self.channel} {self.language} {self.contact_kind}"


class Queue(models.Model):
    key = models.CharField(
        max_length=100, unique=True,
        help_text=_("What rules route to, e.g. chat.es or vip. Lower case, no spaces."),
    )
    name = models.CharField(max_length=100)
    priority = models.PositiveSmallIntegerField(
        default=50, validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("1-100; agents take work from higher-priority queues first."),
    )
    strategy = models.CharField(max_length=32, choices=Strategy.choices, default=Strategy.LONGEST_IDLE)
    target_wait_seconds = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(1)],
        help_text=_("Service-level target: items should reach an agent within this wait."),
    )
    required_skills = _skills_field(_("Every agent taking this queue's work holds these."))
    optional_skills = _skills_field(_("Wanted at first; relaxed after the relax wait or at escalation."))
    relax_optional_after_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Wait after which optional skills are no longer needed."),
    )
    min_agent_tier = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(3)],
    )
    assign_directly = models.BooleanField(
        default=False, help_text=_("Assign without an offer the agent must accept."),
    )
    offer_timeout_seconds = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(5), MaxValueValidator(600)],
    )
    escalate_at_percent = models.PositiveSmallIntegerField(
        default=80, validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("Share of the target wait at which a waiting item is escalated."),
    )
    escalation_priority_boost = models.PositiveSmallIntegerField(
        default=10, help_text=_("Added to an item's priority when it is escalated."),
    )
    overflow_queue = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="overflow_sources",
    )
    overflow_after_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Wait in this queue after which items move to the overflow queue."),
    )
    new_email_while_open = models.CharField(
        max_length=8, choices=WhileOpen.choices, default=WhileOpen.JOIN, db_default=WhileOpen.JOIN,
        help_text=_("A new email from a contact whose previous email in this queue is still open: "
                    "add it to that conversation, or open a new one linked to it."),
    )
    business_hours = models.ForeignKey(
        BusinessHours, null=True, blank=True, on_delete=models.PROTECT, related_name="queues",
        verbose_name=_("business hours"),
        help_text=_("When the team is in. Outside them the chat widget offers email, and the service-level "
                    "clocks (escalation, overflow, breach) stop. Empty: always open, calendar time."),
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-priority", "key")

    def __str__(self) -> str:
        return self.key


class RoutingRule(models.Model):
    """Ordered; the first active rule whose condition holds routes the item."""

    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=100, help_text=_("Lower runs first."))
    is_active = models.BooleanField(default=True)
    condition = models.JSONField(
        default=dict, blank=True,
        help_text=_('e.g. {"all": [{"attribute": "channel", "op": "eq", "value": "chat"}]}; '
                    "an empty group matches everything."),
    )
    queue_key = models.CharField(
        max_length=100, help_text=_("Queue to route to; may use attributes: chat.{language}."),
    )
    priority = models.SmallIntegerField(null=True, blank=True, help_text=_("Empty keeps the item's own."))
    required_skills = _skills_field(_("Needed on top of the queue's required skills."))
    optional_skills = _skills_field(_("Wanted on top of the queue's optional skills."))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("position", "id")

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"


class ItemState(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    OFFERED = "offered", _("Offered")
    ASSIGNED = "assigned", _("Assigned")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_STATES = (ItemState.WAITING, ItemState.OFFERED, ItemState.ASSIGNED)
HELD_STATES = (ItemState.OFFERED, ItemState.ASSIGNED)  # count against the agent's capacity


def held_at(now: datetime) -> Q:
    """Items that hold an agent's capacity at `now`: assigned, or offered and not past the
    offer's timeout. An offer past it holds nothing, whether or not a sweep has expired it
    yet (the beat may be down); written as "held states minus lapsed offers" so the partial
    indexes on the held states still serve it."""
    return Q(state__in=HELD_STATES) & ~Q(state=ItemState.OFFERED, offer_expires_at__lte=now)


class WorkItem(models.Model):
    conversation_id = models.BigIntegerField(help_text=_("The conversation this work is for."))
    channel = models.CharField(max_length=16)
    attributes = models.JSONField(default=dict, blank=True)
    language = models.CharField(max_length=16)
    contact_kind = models.CharField(max_length=16)
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="items",
                              db_index=False)  # work_item_queue_enqueued leads with it
    queue_priority = models.PositiveSmallIntegerField(help_text=_("The queue's, copied for the index."))
    priority = models.SmallIntegerField(default=0)
    required_skills = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    optional_skills = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    optional_relaxed = models.BooleanField(default=False)
    # What the routing rule added on top of its queue's skills, kept so that an edit of the
    # queue's skills can be applied to waiting items without losing them.
    rule_required_skills = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    rule_optional_skills = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    min_agent_tier = models.PositiveSmallIntegerField(default=1)
    rule = models.CharField(max_length=100, blank=True, help_text=_("The rule that routed it."))
    state = models.CharField(max_length=16, choices=ItemState.choices, default=ItemState.WAITING)
    agent = models.ForeignKey(
        AgentProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="items",
    )
    declined_by = ArrayField(models.BigIntegerField(), default=list, blank=True,
                             help_text=_("Agents who declined or let the offer time out."))
    # When the last of them declined (or let it time out): they may have it again once
    # ROUTING_DECLINE_PAUSE_SECONDS have passed and nobody else took it. None: kept from
    # them until it escalates (an agent who transferred it away).
    declined_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField()
    queued_at = models.DateTimeField(help_text=_("When it entered its current queue."))
    offered_at = models.DateTimeField(null=True, blank=True)
    offer_expires_at = models.DateTimeField(null=True, blank=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    # The first time an agent took it (accepted or was assigned); kept when it moves on,
    # so its service level is judged on that first answer.
    answered_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    sla_breached_at = models.DateTimeField(null=True, blank=True)
    # When its service-level steps fall due, counted in business time: set only while its
    # queue keeps business hours, empty (calendar time from the queue's settings) otherwise.
    # See routing.service_levels.
    escalation_due_at = models.DateTimeField(null=True, blank=True)
    relax_due_at = models.DateTimeField(null=True, blank=True)
    overflow_due_at = models.DateTimeField(null=True, blank=True)
    breach_due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation_id"], condition=Q(state__in=OPEN_STATES),
                name="work_item_one_open_per_conversation",
            ),
        ]
        indexes = [
            models.Index(
                "channel", "language", "contact_kind", F("queue_priority").desc(), F("priority").desc(),
                "enqueued_at", "id", name="work_item_waiting_best", condition=Q(state="waiting"),
            ),
            models.Index(fields=["enqueued_at"], name="work_item_waiting_oldest",
                         condition=Q(state="waiting")),
            models.Index(fields=["agent", "channel"], name="work_item_held",
                         condition=Q(state__in=HELD_STATES)),
            models.Index(fields=["offer_expires_at"], name="work_item_offer_expiry",
                         condition=Q(state="offered")),
            models.Index(fields=["queue", "enqueued_at"], name="work_item_queue_enqueued"),
            # Items arrive in time order, so a BRIN index finds "enqueued today" for the
            # statistics in a few pages, at a tiny fraction of a B-tree's size.
            BrinIndex(fields=["enqueued_at"], name="work_item_enqueued_brin"),
            models.Index(fields=["conversation_id", "-enqueued_at"], name="work_item_conversation"),
        ]

    def __str__(self) -> str:
        return f"item {self.pk} ({self.channel}, {self.queue_id}, {self.state})"


# The outbox stream of WorkItemEvent rows (supportdesk.outbox): the layers above register
# consumers of it, and routing writes their entries in the transaction of each event.
HISTORY_STREAM = "routing.history"


class WorkItemEventKind(models.TextChoices):
    """Every kind of routing history, written by routing's services and read by whoever
    copies it (the contact's timeline). The column keeps no choices of its own (a plain
    varchar): the services write only these, checked as they write."""

    QUEUED = "queued", _("Queued")
    OFFERED = "offered", _("Offered")
    ASSIGNED = "assigned", _("Assigned")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    EXPIRED = "expired", _("Offer expired")
    WITHDRAWN = "withdrawn", _("Offer withdrawn")
    REQUEUED = "requeued", _("Requeued")
    TRANSFERRED = "transferred", _("Transferred")
    ESCALATED = "escalated", _("Escalated")
    RELAXED = "relaxed", _("Optional skills relaxed")
    OVERFLOWED = "overflowed", _("Overflowed")
    BREACHED = "breached", _("Target wait breached")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


class WorkItemEvent(models.Model):
    """What happened to a work item: one of `WorkItemEvent.Kind`.

    Written only with `supportdesk.outbox.outbox_bulk_create(..., stream=HISTORY_STREAM)`."""

    Kind = WorkItemEventKind
    # The steps of a conversation's routing its contact's timeline shows (the rest is
    # routing's own bookkeeping: offers made, expired, declined, steps of the SLA).
    CONTACT_HISTORY_KINDS = frozenset({
        WorkItemEventKind.QUEUED, WorkItemEventKind.ASSIGNED, WorkItemEventKind.ACCEPTED,
        WorkItemEventKind.TRANSFERRED, WorkItemEventKind.BREACHED, WorkItemEventKind.COMPLETED,
    })

    item = models.ForeignKey(WorkItem, on_delete=models.CASCADE, related_name="events",
                             db_index=False)  # work_item_event_item leads with it
    kind = models.CharField(max_length=32)
    at = models.DateTimeField()
    agent = models.ForeignKey(AgentProfile, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    queue = models.ForeignKey(Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["item", "at"], name="work_item_event_item")]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%Y-%m-%d %H:%M:%S}"


class RoutingAudit(models.Model):
    """Who changed a queue, a rule or an agent's routing settings, when, before and after."""

    model = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    action = models.CharField(max_length=16)  # created, changed, deleted
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=150)
    at = models.DateTimeField(auto_now_add=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["model", "object_id", "-at"], name="routing_audit_object")]
        ordering = ("-at", "-id")

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.model} {self.object_repr}"


class RuleCondition(models.Model):
    """One test of a rule as supervisors edit it in the admin.

    Rows with the same group number form an any-of group; the groups are combined all-of;
    a rule without rows matches everything. The admin assembles them into
    `RoutingRule.condition` (see `routing.rules`), which is all the engine reads.
    """

    rule = models.ForeignKey(RoutingRule, on_delete=models.CASCADE, related_name="conditions")
    group = models.PositiveSmallIntegerField(
        default=1, help_text=_("Rows with the same group number: any one holds. Groups: every one holds."),
    )
    attribute = models.CharField(max_length=100, help_text=_("e.g. language, tier, custom.vip"))
    op = models.CharField(max_length=16, choices=[(op, op.replace("_", " ")) for op in OPERATORS])
    # Text as typed; `routing.rules.condition_value_parse` turns it into the JSON value.
    value = models.CharField(
        max_length=1000, blank=True,
        help_text=_("Text, a number or JSON; a comma list or a JSON list for in / not in; "
                  "true, false or empty for exists."),
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ("group", "position", "id")

    def __str__(self) -> str:
        return f"{self.attribute} {self.op} {self.value}".strip()
