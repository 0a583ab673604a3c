"""Conversations with contacts across channels, and their messages.

One module, as Django finds an app's models (over 500 lines: the conversation, its messages and
what hangs off them, calls, the widget's visitors, self-service sessions and the suggested
replies' trained models are each a few dozen lines of fields and indexes, with no behaviour; the
behaviour lives in services/, selectors.py, deflection.py and suggestions/, one module a use case)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from timeline.models import Contact


class Channel(models.TextChoices):
    CHAT = "chat", _("Live chat")
    EMAIL = "email", _("Email")
    MESSAGING = "messaging", _("Messaging")
    VOICE = "voice", _("Voice")
    TASK = "task", _("Task")


class ConversationStatus(models.TextChoices):
    OPEN = "open", _("Open")
    PENDING = "pending", _("Pending")
    RESOLVED = "resolved", pgettext_lazy("conversation status", "Resolved")  # the reports' is a date
    CLOSED = "closed", _("Closed")


class Priority(models.IntegerChoices):
    LOW = 1, _("Low")
    NORMAL = 2, _("Normal")
    HIGH = 3, _("High")
    URGENT = 4, _("Urgent")


class ConversationIntent(models.TextChoices):
    """What the customer's first message asks for (conversations.intents), as agents read it."""

    ORDER_STATUS = "order_status", _("Where is my order")
    LATE = "late", _("Late order")
    CANCEL = "cancel", _("Cancel order")
    REFUND = "refund", _("Refund")
    MISSING_ITEM = "missing_item", _("Missing item")
    ACCOUNT = "account", _("Account")
    OTHER = "other", _("Other")


class Conversation(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    status = models.CharField(
        max_length=16, choices=ConversationStatus.choices, default=ConversationStatus.OPEN
    )
    language = models.CharField(max_length=16, blank=True)
    contact_reason = models.CharField(max_length=64, blank=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    subject = models.CharField(max_length=255, blank=True)
    # Custom attributes set by workflows (and read by their conditions), e.g. {"audited": true}.
    attributes = models.JSONField(default=dict, blank=True, db_default={})
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="assigned_conversations",
    )
    # The last sequence number handed out; the next message takes this plus one.
    last_message_sequence = models.PositiveIntegerField(default=0, editable=False)
    last_message_at = models.DateTimeField(null=True, blank=True)
    # Read marks, as sequence numbers: what the contact has seen of the agents' replies, and
    # what agents have seen of the contact's messages (unread counts start after it).
    contact_read_sequence = models.PositiveIntegerField(default=0, editable=False)
    agent_read_sequence = models.PositiveIntegerField(default=0, editable=False)
    # When the conversation was handed to routing; empty while that is still to do (a chat
    # is routed by a task once its language is known, and a sweep retries any left behind).
    routed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The caller's own id for the request that opened it: opening again with the same one (a
    # retry after a timeout) returns this conversation instead of a second one.
    client_id = models.CharField(max_length=64, blank=True, default="", db_default="")
    # The contact's latest satisfaction rating of it (1-5) and comment, written by the survey
    # that asked them (workflows.surveys, through `conversation_rating_record`).
    rating = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    rating_comment = models.TextField(blank=True, default="", db_default="", editable=False)
    rated_at = models.DateTimeField(null=True, blank=True, editable=False)

    # When the contact ended the chat from the widget, or its visitor went away (the end of
    # their wait): conversations.services.chat_end. A chat ended before an agent answered
    # is closed (abandoned); one ended after stays open for its agent to resolve.
    contact_ended_at = models.DateTimeField(null=True, blank=True, editable=False)

    # The contact's earlier conversation this one was opened beside, while that one was still
    # open (a new email on another subject, when its queue links rather than joins).
    linked_conversation = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                            related_name="+", editable=False)

    # What the first customer message asks for, recognised when the conversation is routed
    # (conversations.intents); empty when unsure (under the threshold), not text, or not yet.
    intent = models.CharField(max_length=16, choices=ConversationIntent.choices, blank=True, default="",
                              db_default="", editable=False)
    intent_confidence = models.FloatField(null=True, blank=True, editable=False)

    # The order the chat is about, when the customer opened it from the widget's self-service
    # (a missing item, or "talk to an agent" under an answer about that order): the agent sees it.
    order = models.ForeignKey("timeline.Order", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="conversations", editable=False)

    # Not a column: set on the conversation an open returns when its client id was used already.
    replayed: bool = False

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "client_id"], name="conversation_contact_client_id",
                                    condition=~models.Q(client_id="")),
        ]
        indexes = [
            models.Index(fields=["contact", "-created_at"], name="conversation_contact_newest"),
            models.Index(fields=["status", "-created_at"], name="conversation_status_newest"),
            models.Index(fields=["assignee", "status"], name="conversation_assignee"),
            models.Index(fields=["created_at"], name="conversation_unrouted",
                         condition=models.Q(routed_at__isnull=True, status="open")),
            # The day's ratings per queue (the live view's satisfaction): rated ones only.
            models.Index(fields=["rated_at"], name="conversation_rated_at",
                         condition=models.Q(rated_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_channel_display()} with {self.contact}"


class MessageDirection(models.TextChoices):
    INBOUND = "in", _("Inbound")
    OUTBOUND = "out", _("Outbound")
    NOTE = "note", _("Internal note")


# The outbox stream of stored messages (supportdesk.outbox): consumers above conversations
# (the workflows' "message received" trigger) register for it and say which rows they want;
# messages are not timeline events (too many). Written only through `outbox_bulk_create` or,
# on the chat's hot path, as a data-modifying CTE of its one statement (services/visitors.py).
MESSAGE_STREAM = "conversations.messages"
# The event kind a consumer sees an inbound message as.
MESSAGE_RECEIVED = "message.received"


# channel_metadata keys only the desk's providers write (integrations): an email's or a WhatsApp
# message's own data, and the attachments the desk serves back from the provider's copy.
RESERVED_METADATA = frozenset({"email", "whatsapp", "attachments"})


# What a client id may be (the widget's are UUIDs): checked where messages come in.
CLIENT_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"


class DeliveryState(models.TextChoices):
    """Where an outbound message on a channel with a provider is (conversations.channels)."""

    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    READ = "read", _("Read")
    FAILED = "failed", _("Failed")


class DeliveryReport(models.Model):
    """A provider's report about a message whose send the desk has not recorded yet: it outran
    the commit of the send (the provider answered and reported before the desk's transaction
    ended). Applied as soon as the send's reference is recorded, dropped after an hour
    (conversations.channels)."""

    channel = models.CharField(max_length=16)
    reference = models.CharField(max_length=255)
    state = models.CharField(max_length=16, choices=DeliveryState.choices)
    detail = models.TextField(blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["channel", "reference"], name="delivery_report_reference")]

    def __str__(self) -> str:
        return f"{self.channel} {self.reference}: {self.state}"


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    sequence = models.PositiveIntegerField()
    direction = models.CharField(max_length=8, choices=MessageDirection.choices)
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="messages",
    )
    body = models.TextField()
    channel_metadata = models.JSONField(default=dict, blank=True)
    # The sender's own id for the message (the widget's, the desk composer's, an API
    # caller's), so a message sent again after a dropped connection or a timeout is stored once.
    client_id = models.CharField(max_length=64, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    # Outbound messages on a channel with a provider (email, messaging): where delivery is, the
    # provider's reason when it failed, and the provider's id of the message (its reports
    # name it). Empty for chat, notes and inbound messages.
    delivery_state = models.CharField(max_length=16, choices=DeliveryState.choices, blank=True, default="",
                                      db_default="")
    delivery_detail = models.TextField(blank=True, default="", db_default="")
    delivery_reference = models.CharField(max_length=255, blank=True, default="", db_default="")
    delivery_updated_at = models.DateTimeField(null=True, blank=True)
    # What the agent put into the reply from the desk's own texts, for the suggested replies to
    # learn from (conversations.suggestions): labels "macro:<shortcut>" and "article:<key>". Empty
    # for everything else, and for a reply typed by hand.
    inserted = models.JSONField(default=list, blank=True, db_default=[])

    # Not a column: set on the message a send returns when its client id was stored already,
    # so the caller can say "the same message again" (HTTP 200, not 201).
    replayed: bool = False

    class Meta:
        ordering = ["conversation", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "sequence"], name="message_conversation_sequence"
            ),
            # Client ids are unique per sender: the contact's side (the widget, integrations)
            # shares one space per conversation; each agent has their own, for replies and notes
            # alike, so nobody can take (or answer with) another sender's message by its id.
            models.UniqueConstraint(
                fields=["conversation", "client_id"], name="message_contact_client_id",
                condition=~models.Q(client_id="") & models.Q(direction="in"),
            ),
            models.UniqueConstraint(
                fields=["conversation", "author_user", "client_id"], name="message_agent_client_id",
                condition=~models.Q(client_id="") & ~models.Q(direction="in"),
            ),
        ]
        indexes = [
            models.Index(fields=["delivery_reference"], name="message_delivery_reference",
                         condition=~models.Q(delivery_reference="")),
            # The suggestions' training reads only the replies that inserted something.
            models.Index(fields=["created_at"], name="message_inserted_created",
                         condition=models.Q(direction="out") & ~models.Q(inserted=[])),
        ]

    def __str__(self) -> str:
        return f"#{self.conversation_id}.{self.sequence} ({self.direction})"

    @property
    def author_label(self) -> str:
        if self.author_user_id:
            return str(self.author_user)
        return "contact" if self.direction == MessageDirection.INBOUND else "system"


class ContactReason(models.Model):
    """Why the contact got in touch, chosen by the agent when resolving (supervisors keep the list)."""

    key = models.SlugField(max_length=64, unique=True, help_text=_("Stored on conversations, e.g. late_order"))
    label = models.CharField(max_length=120)
    is_active = models.BooleanField(default=True)
    # Seed 002: an agent may offer a chat customer a call only for reasons enabled here.
    calls_enabled = models.BooleanField(
        default=False, db_default=False,
        help_text=_("Agents may offer the customer a phone call in chats about this reason."))

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label


MACRO_VARIABLES = (
    "contact.name", "contact.first_name", "contact.email", "contact.external_id",
    "contact.lifetime_order_value", "contact.credit_balance", "contact.tier", "contact.store_name",
    "agent.first_name", "agent.name", "conversation.id",
)


class Macro(models.Model):
    """A canned reply. Typing `#<shortcut>` in the composer puts its text in, with the
    contact's variables filled in: {{ contact.first_name }}, {{ agent.first_name }}, ...

    One shortcut may have a text per language: a chat takes the one in its language, else
    the one for any language (language left empty)."""

    shortcut = models.SlugField(max_length=64, help_text=_("Typed as #shortcut"))
    title = models.CharField(max_length=120)
    body = models.TextField(help_text=format_lazy(_("Variables: {variables}"), variables=", ".join(
        "{{ " + name + " }}" for name in MACRO_VARIABLES)))
    language = models.CharField(max_length=16, blank=True, help_text=_("Empty: any language"))
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["shortcut", "language"]
        constraints = [
            models.UniqueConstraint(fields=["shortcut", "language"], name="macro_shortcut_language"),
        ]

    def __str__(self) -> str:
        return f"#{self.shortcut}" + (f" ({self.language})" if self.language else "")


# --- voice -----------------------------------------------------------------------------------


class CallReason(models.TextChoices):
    """Why a call happened: the contact rang in, asked to be called back, or an agent offered a call."""

    INBOUND = "inbound", _("Inbound call")
    CALLBACK = "callback", _("Callback")
    PROACTIVE = "proactive", _("Proactive call")
    # Offered because the customer stopped answering in chat: a reason of its own in the records.
    INACTIVITY = "inactivity", _("Inactivity call")


class CallStatus(models.TextChoices):
    RINGING = "ringing", _("Ringing")  # the caller is in the language menu
    QUEUED = "queued", _("Waiting for an agent")
    CALLBACK_REQUESTED = "callback_requested", _("Callback requested")
    CONNECTING = "connecting", _("Connecting")
    IN_PROGRESS = "in_progress", _("In progress")
    ON_HOLD = "on_hold", _("On hold")
    COMPLETED = "completed", _("Completed")
    ABANDONED = "abandoned", _("Abandoned")  # the caller hung up before an agent answered
    MISSED = "missed", _("Missed")  # an outbound call nobody answered
    FAILED = "failed", _("Failed")
    # A callback request an agent took (the callback is a call of its own).
    CALLED_BACK = "called_back", _("Called back")


CALL_ENDED = (CallStatus.COMPLETED, CallStatus.ABANDONED, CallStatus.MISSED, CallStatus.FAILED,
              CallStatus.CALLED_BACK)


class Call(models.Model):
    """One phone call of a voice conversation (an inbound call, a callback, a proactive call).

    The provider (integrations) reports what happens to it; the desk asks the provider to
    connect, hold, resume or end it through `CallAction` rows (conversations.calls)."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="calls")
    # The provider's id of the call (Twilio's CallSid); empty until an outbound call is placed.
    provider_call_id = models.CharField(max_length=64, blank=True, default="")
    direction = models.CharField(max_length=8, choices=MessageDirection.choices[:2])
    reason = models.CharField(max_length=16, choices=CallReason.choices, default=CallReason.INBOUND)
    status = models.CharField(max_length=24, choices=CallStatus.choices, default=CallStatus.RINGING)
    contact_number = models.CharField(max_length=32, blank=True, default="")
    desk_number = models.CharField(max_length=32, blank=True, default="")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="calls")
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    wait_seconds = models.PositiveIntegerField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    recording_url = models.URLField(max_length=500, blank=True, default="")
    detail = models.CharField(max_length=500, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider_call_id"], name="call_provider_id",
                                    condition=~models.Q(provider_call_id="")),
        ]
        indexes = [
            models.Index(fields=["conversation", "-created_at"], name="call_conversation"),
            models.Index(fields=["agent", "reason", "-created_at"], name="call_agent_reason"),
        ]

    def __str__(self) -> str:
        return f"call {self.pk} ({self.get_reason_display()}, {self.get_status_display()})"

    @property
    def is_over(self) -> bool:
        return self.status in CALL_ENDED


class CallEventKind(models.TextChoices):
    RINGING = "ringing", _("Ringing")
    LANGUAGE = "language", _("Language chosen")
    QUEUED = "queued", _("Waiting for an agent")
    OFFERED = "offered", _("Ringing an agent")
    MISSED = "missed", _("Missed by an agent")
    ANSWERED = "answered", _("Answered")
    HELD = "held", _("Put on hold")
    RESUMED = "resumed", _("Taken off hold")
    TRANSFERRED = "transferred", _("Transferred")
    CALLBACK_REQUESTED = "callback_requested", _("Callback requested")
    DIALLED = "dialled", _("Dialled")
    ENDED = "ended", _("Ended")
    ABANDONED = "abandoned", _("Abandoned")
    NOT_ANSWERED = "not_answered", _("Not answered")
    FAILED = "failed", _("Failed")
    RECORDING = "recording", _("Recording ready")


class CallEvent(models.Model):
    """What happened to a call, in order: the conversation shows it, the timeline gets a copy."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=24, choices=CallEventKind.choices)
    at = models.DateTimeField()
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    detail = models.JSONField(default=dict, blank=True)
    # The provider's id of the report that caused it, so a report sent again records nothing.
    key = models.CharField(max_length=128, blank=True, default="")

    class Meta:
        ordering = ("at", "id")
        constraints = [
            models.UniqueConstraint(fields=["call", "key"], name="call_event_key", condition=~models.Q(key="")),
        ]
        indexes = [models.Index(fields=["call", "at"], name="call_event_call")]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%Y-%m-%d %H:%M:%S}"


class CallActionKind(models.TextChoices):
    CONNECT = "connect", _("Connect the caller to an agent")
    DIAL = "dial", _("Call the contact and connect an agent")
    HOLD = "hold", _("Hold")
    RESUME = "resume", _("Resume")
    REQUEUE = "requeue", _("Back to waiting")
    HANGUP = "hangup", _("Hang up")


# The outbox stream of CallAction rows: the voice provider's consumer (conversations.calls) sends them.
CALL_ACTION_STREAM = "conversations.call_actions"


class CallAction(models.Model):
    """What the desk asks the voice provider to do with a call; written in the agent's
    transaction with an outbox entry, sent by the calls' consumer one a transaction with its
    key as the provider's idempotency key."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(max_length=16, choices=CallActionKind.choices)
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    # Retries of the same request (a double click, a retried POST) write one action.
    key = models.CharField(max_length=128, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=500, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.kind} call {self.call_id}"


class CallInvitationState(models.TextChoices):
    SENT = "sent", _("Sent")
    ACCEPTED = "accepted", _("Accepted")
    REFUSED = "refused", _("Refused")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")


class CallInvitation(models.Model):
    """An agent's offer to call the customer from a chat (seed 002): a signed, single-use link
    the customer answers with consent ("call me now") or refusal ("continue in chat")."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="call_invitations")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="call_invitations")
    reason = models.CharField(max_length=16, choices=CallReason.choices[2:], default=CallReason.PROACTIVE)
    state = models.CharField(max_length=16, choices=CallInvitationState.choices, default=CallInvitationState.SENT)
    phone = models.CharField(max_length=32, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    call = models.OneToOneField(Call, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitation")
    client_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "client_id"], name="call_invitation_client_id",
                                    condition=~models.Q(client_id="")),
        ]
        indexes = [
            models.Index(fields=["conversation", "-created_at"], name="call_invitation_conversation"),
            models.Index(fields=["agent", "-created_at"], name="call_invitation_agent"),
        ]

    def __str__(self) -> str:
        return f"call invitation {self.pk} ({self.state})"


class ChatVisitor(models.Model):
    """A chat no agent answered yet that a widget's socket follows: `seen_at` is the last
    moment a visitor was known to be there, refreshed while a socket is connected and set
    at its disconnect (conversations.services.chat_end). A chat not refreshed for
    CHAT_ABANDON_AFTER_SECONDS was abandoned at `seen_at`. A row per waiting chat at most:
    the sweep deletes those answered or ended, so the table stays small."""

    conversation = models.OneToOneField(Conversation, primary_key=True, on_delete=models.CASCADE,
                                        related_name="+")
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"visitor of chat {self.conversation_id} seen {self.seen_at:%H:%M:%S}"


class SuggestionModel(models.Model):
    """A trained model of the suggested replies (conversations.suggestions), with how well it did:
    the newest row is the one every web process serves (each loads it once and keeps it until a
    newer one exists). Its parameters are plain JSON (conversations.suggestions.engine), never a
    pickle. A row is written once and not changed; the oldest beyond a few are deleted."""

    trained_at = models.DateTimeField(db_index=True)
    format = models.PositiveSmallIntegerField()
    parameters = models.JSONField()
    examples = models.PositiveIntegerField(help_text=_("Agent replies it learnt from"))
    # The measure: a model trained on the history before the held-out week, asked about that week's replies.
    held_out = models.PositiveIntegerField(help_text=_("Replies of the last week it was measured on"))
    hits = models.PositiveIntegerField()
    hit_rate = models.FloatField(null=True, blank=True)  # None: nothing held out to measure on
    by_language = models.JSONField(default=dict, blank=True)
    seconds = models.FloatField(default=0.0)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"suggestion model {self.pk} ({self.trained_at:%Y-%m-%d %H:%M})"


class SelfServiceSession(models.Model):
    """A widget visitor who got an answer without an agent (conversations.deflection): an
    article read, "this answered my question", an order question answered. Answers close
    together in time (`deflection.SESSION_IDLE` apart at most) make one session. A conversation
    the contact opens within 24 hours of the session's last answer *follows* it (`followed_at`,
    and `conversation`: what the agent sees was read before asking); a session nothing followed
    for 24 hours is *deflected*, settled at read time from `answered_at` (no task to miss).

    The conversations layer has no article or order model: each answer is plain data (kind,
    reference, title, address), written by the app that answered after checking it."""

    # The visitor: their contact when known; an anonymous visitor's widget id until their first
    # message makes them a contact (`visitor`, the uuid of conversations.widget.Session).
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    visitor = models.CharField(max_length=64, blank=True, default="")
    # The reports' filters: what the session was in (the widget's language) and who asked.
    language = models.CharField(max_length=16, blank=True, default="")
    contact_kind = models.CharField(max_length=16, blank=True, default="")
    started_at = models.DateTimeField()  # the first answer: the report counts the session here
    answered_at = models.DateTimeField()  # the last answer: the 24 hours run from here
    followed_at = models.DateTimeField(null=True, blank=True)
    conversation = models.ForeignKey(Conversation, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")

    class Meta:
        indexes = [
            # The report's one scan per period (index-only: every column it counts is included).
            models.Index(fields=["started_at"], name="self_service_started",
                         include=["answered_at", "followed_at", "language", "contact_kind"]),
            models.Index(fields=["contact", "-answered_at"], name="self_service_contact"),
            models.Index(fields=["visitor", "-answered_at"], name="self_service_visitor",
                         condition=~models.Q(visitor="")),
            models.Index(fields=["conversation"], name="self_service_conversation",
                         condition=models.Q(conversation__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"self-service session {self.pk} from {self.started_at:%Y-%m-%d %H:%M}"


class SelfServiceAnswer(models.Model):
    """One answer a session got: once per kind and reference (a retry records nothing more)."""

    session = models.ForeignKey(SelfServiceSession, on_delete=models.CASCADE, related_name="answers")
    kind = models.CharField(max_length=32)  # article_read, article_answered, or another app's kind
    ref = models.CharField(max_length=64)  # what answered, in the answering app's terms (a version's id)
    title = models.CharField(max_length=200, blank=True, default="")
    url = models.CharField(max_length=300, blank=True, default="")
    language = models.CharField(max_length=16, blank=True, default="")
    query = models.CharField(max_length=200, blank=True, default="")  # what the visitor had typed
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "kind", "ref"], name="self_service_answer_once")]
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.ref}"
