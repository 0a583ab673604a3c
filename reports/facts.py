"""Facts worked out from the raw records: one read per table for a batch of conversations.

`conversation_facts(ids)` answers, for each conversation that exists, its facts and those of
its work items, as plain rows with the fields of ConversationFact and ItemFact
(`ConversationRow`, `ItemRow`: a drain works out thousands a second, and a model instance
costs many times a tuple); the caller (reports.rollups) compares them with the stored ones,
read as the same rows (`stored_conversation_facts`, `stored_item_facts`). Definitions (README, "Metrics"):

- an item is answered when an agent first took it (`answered_at`); abandoned when it was
  cancelled before that (the contact left: a chat ended or gone, a call hung up); closed
  when the desk ended it unanswered (a conversation resolved while waiting);
- its wait runs from arrival to the answer or the abandon, in the queue's business time
  where the queue has business hours (`reports.clock`);
- the spans an agent held an item run from its assignment (or accepted offer) to its
  transfer, requeue or end; handle time is their sum over the conversation's items;
- the first reply is the first reply a person wrote after the conversation was created;
  each later run of the contact's messages answered by a person is a next reply, timed from
  the run's first message;
- reopened: it went back to open or pending after being resolved or closed;
- first-contact resolution: resolved, never reopened, held by at most one agent, and no
  other conversation from the contact with the same contact reason created within
  `FCR_WINDOW` after it was resolved.
"""

from __future__ import annotations

from collections import defaultdict, namedtuple
from collections.abc import Iterable
from datetime import datetime, timedelta

from conversations.models import Conversation, ConversationStatus, Message, MessageDirection
from reports import clock
from reports.models import ConversationFact, ItemFact
from routing.models import ItemState, WorkItem, WorkItemEvent, WorkItemEventKind
from timeline.events import EventKind
from timeline.models import TimelineEvent
from workflows.surveys.models import Survey

ConversationRow = namedtuple("ConversationRow", [f.attname for f in ConversationFact._meta.concrete_fields])
ItemRow = namedtuple("ItemRow", [f.attname for f in ItemFact._meta.concrete_fields])

FCR_WINDOW = timedelta(days=7)
HOLD_STARTS = frozenset({WorkItemEventKind.ASSIGNED, WorkItemEventKind.ACCEPTED})
HOLD_ENDS = frozenset({WorkItemEventKind.TRANSFERRED, WorkItemEventKind.REQUEUED, WorkItemEventKind.COMPLETED,
                       WorkItemEventKind.CANCELLED})
OFFER_KINDS = {WorkItemEventKind.OFFERED: "offer", WorkItemEventKind.DECLINED: "declined",
               WorkItemEventKind.EXPIRED: "missed"}
CLOSED_STATUSES = (ConversationStatus.RESOLVED, ConversationStatus.CLOSED)


def _item_outcome(item: dict) -> str:
    if item["answered_at"] is not None:
        return "answered"
    if item["state"] == ItemState.CANCELLED:
        return "abandoned"
    if item["state"] == ItemState.COMPLETED:
        return "closed"
    return "open"


def _item_history(events: list[dict]) -> tuple[list, list, set[int], int]:
    """(agent events, ended held spans, every agent who held it, the last holder) from an
    item's history in order."""
    agent_events: list[list] = []
    held: list[list] = []
    holders: set[int] = set()
    holder, since, last = None, 0.0, 0
    answered = False
    for event in events:
        kind, agent_id, at = event["kind"], event["agent_id"], event["at"].timestamp()
        if kind in OFFER_KINDS and agent_id:
            agent_events.append([agent_id, OFFER_KINDS[kind], at])
        if holder is not None and (kind in HOLD_ENDS or kind in HOLD_STARTS):
            held.append([holder, since, at])
            holder = None
        if kind in HOLD_STARTS and agent_id:
            if not answered:
                agent_events.append([agent_id, "answered", at])
                answered = True
            holder, since, last = agent_id, at, agent_id
            holders.add(agent_id)
    return agent_events, held, holders, last


def _reply_times(messages: list[dict], created_at, elapsed) -> tuple[float | None, int, float]:  # noqa: ANN001
    """(first reply seconds, next replies, their seconds) from the messages in order."""
    first: float | None = None
    waiting_since = None
    count, total = 0, 0.0
    for message in messages:
        if message["direction"] == MessageDirection.INBOUND:
            if waiting_since is None and first is not None:
                waiting_since = message["created_at"]
        elif message["author_user_id"] is not None:  # a person's reply (not a workflow's)
            if first is None:
                first = elapsed(created_at, message["created_at"])
            elif waiting_since is not None:
                count += 1
                total += elapsed(waiting_since, message["created_at"])
            waiting_since = None
    return first, count, total


def _reopened(status_events: list[tuple[str, datetime]]) -> bool:
    closed = False
    for status, _at in status_events:
        if status in CLOSED_STATUSES:
            closed = True
        elif closed:
            return True
    return False


def _closed_at(conversation: dict, status_events: list[tuple[str, datetime]]) -> datetime | None:
    """When it was closed unresolved, if it stands closed now (the last change closed it)."""
    if conversation["status"] != ConversationStatus.CLOSED:
        return None
    closes = [at for status, at in status_events if status == ConversationStatus.CLOSED]
    return closes[-1] if closes else conversation["updated_at"]


def stored_conversation_facts(ids: Iterable[int]) -> dict[int, ConversationRow]:
    rows = ConversationFact.objects.filter(conversation_id__in_array=ids).values_list(*ConversationRow._fields)
    return {row[0]: ConversationRow._make(row) for row in rows}


def stored_item_facts(conversation_ids: Iterable[int]) -> dict[int, ItemRow]:
    rows = ItemFact.objects.filter(conversation_id__in_array=conversation_ids).values_list(*ItemRow._fields)
    return {row[0]: ItemRow._make(row) for row in rows}


def conversation_facts(ids: Iterable[int]) -> tuple[list[ConversationRow], list[ItemRow]]:
    ids = sorted(set(ids))
    if not ids:
        return [], []
    conversations = list(Conversation.objects.filter(pk__in_array=ids).values(
        "id", "contact_id", "contact__kind", "channel", "language", "contact_reason", "created_at",
        "resolved_at", "rating", "status", "updated_at"))
    if not conversations:
        return [], []
    items = list(WorkItem.objects.filter(conversation_id__in_array=ids).order_by("enqueued_at", "id").values(
        "id", "conversation_id", "queue_id", "queue__target_wait_seconds", "channel", "language",
        "contact_kind", "enqueued_at", "state", "answered_at", "completed_at"))
    events_of: dict[int, list[dict]] = defaultdict(list)
    for event in (WorkItemEvent.objects.filter(item_id__in_array=[item["id"] for item in items])
                  .order_by("item_id", "at", "id").values("item_id", "kind", "agent_id", "at")):
        events_of[event["item_id"]].append(event)
    messages_of: dict[int, list[dict]] = defaultdict(list)
    for message in (Message.objects.filter(conversation_id__in_array=ids)
                    .exclude(direction=MessageDirection.NOTE).order_by("conversation_id", "sequence")
                    .values("conversation_id", "direction", "author_user_id", "created_at")):
        messages_of[message["conversation_id"]].append(message)
    statuses_of: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
    for subject_id, payload, occurred_at in (TimelineEvent.objects.filter(
            subject_type="conversation", subject_id__in_array=ids, kind=EventKind.CONVERSATION_STATUS_CHANGED)
            .order_by("occurred_at", "id").values_list("subject_id", "payload", "occurred_at")):
        statuses_of[subject_id].append((payload.get("status", ""), occurred_at))
    surveyed = set(Survey.objects.filter(conversation_id__in_array=ids, sent_at__isnull=False)
                   .values_list("conversation_id", flat=True))
    repeats = _repeat_contacts(conversations)

    item_facts: list[ItemRow] = []
    per_conversation: dict[int, dict] = defaultdict(lambda: {"handle": 0.0, "holders": set(), "last": 0,
                                                             "queue": 0})
    reasons = {c["id"]: c["contact_reason"] for c in conversations}
    for item in items:
        if item["conversation_id"] not in reasons:
            continue
        agent_events, held, holders, last = _item_history(events_of[item["id"]])
        outcome = _item_outcome(item)
        end = {"answered": item["answered_at"], "abandoned": item["completed_at"]}.get(outcome)
        wait = clock.elapsed(item["queue_id"], item["enqueued_at"], end) if end is not None else 0.0
        item_facts.append(ItemRow(
            item_id=item["id"], conversation_id=item["conversation_id"], queue_id=item["queue_id"],
            channel=item["channel"], language=item["language"], contact_kind=item["contact_kind"],
            contact_reason=reasons[item["conversation_id"]], enqueued_at=item["enqueued_at"], outcome=outcome,
            wait_seconds=wait, target_seconds=item["queue__target_wait_seconds"] or 0,
            agent_events=agent_events, held=held))
        summary = per_conversation[item["conversation_id"]]
        summary["handle"] += sum(end - start for _agent, start, end in held)
        summary["holders"] |= holders
        summary["last"] = last or summary["last"]
        summary["queue"] = item["queue_id"]

    facts = []
    for conversation in conversations:
        summary = per_conversation[conversation["id"]]
        queue_id = summary["queue"]
        first, next_count, next_total = _reply_times(
            messages_of[conversation["id"]], conversation["created_at"],
            lambda start, end, queue_id=queue_id: clock.elapsed(queue_id, start, end))
        reopened = _reopened(statuses_of[conversation["id"]])
        resolved_at = conversation["resolved_at"]
        fcr = (resolved_at is not None and not reopened and len(summary["holders"]) <= 1
               and not _repeated(conversation, repeats))
        facts.append(ConversationRow(
            conversation_id=conversation["id"], queue_id=queue_id, channel=conversation["channel"],
            language=conversation["language"], contact_kind=conversation["contact__kind"],
            contact_reason=conversation["contact_reason"], agent_id=summary["last"],
            contact_id=conversation["contact_id"], created_at=conversation["created_at"], resolved_at=resolved_at,
            closed_at=_closed_at(conversation, statuses_of[conversation["id"]]),
            first_reply_seconds=first, next_reply_count=next_count, next_reply_seconds=next_total,
            handle_seconds=summary["handle"], reopened=reopened, agents=len(summary["holders"]), fcr=fcr,
            surveyed=conversation["id"] in surveyed, rating=conversation["rating"]))
    return facts, item_facts


def _repeat_contacts(conversations: list[dict]) -> dict[int, list[tuple]]:
    """For the contacts of the resolved conversations: their conversations with a contact
    reason created since the earliest of those resolutions, as (id, created_at, reason)."""
    resolved = [c for c in conversations if c["resolved_at"] is not None and c["contact_reason"]]
    if not resolved:
        return {}
    since = min(c["resolved_at"] for c in resolved)
    found: dict[int, list[tuple]] = defaultdict(list)
    contacts = {c["contact_id"] for c in resolved}
    for row in (Conversation.objects.filter(contact_id__in_array=contacts, created_at__gt=since)
                .exclude(contact_reason="").values_list("contact_id", "id", "created_at", "contact_reason")):
        found[row[0]].append(row[1:])
    return found


def _repeated(conversation: dict, repeats: dict[int, list[tuple]]) -> bool:
    resolved_at, reason = conversation["resolved_at"], conversation["contact_reason"]
    return any(other_id != conversation["id"] and other_reason == reason
               and resolved_at < created_at <= resolved_at + FCR_WINDOW
               for other_id, created_at, other_reason in repeats.get(conversation["contact_id"], ()))


def earlier_first_contacts(facts: list[ConversationRow]) -> set[int]:
    """The stored conversations whose first-contact resolution these may undo: the same
    contact's, resolved within FCR_WINDOW before one of these was created, with its reason."""
    wanted: dict[tuple[int, str], list[datetime]] = defaultdict(list)
    for fact in facts:
        if fact.contact_reason:
            wanted[(fact.contact_id, fact.contact_reason)].append(fact.created_at)
    if not wanted:
        return set()
    since = min(min(created) for created in wanted.values()) - FCR_WINDOW
    rows = (ConversationFact.objects.filter(contact_id__in_array={contact for contact, _reason in wanted},
                                            resolved_at__gte=since).exclude(contact_reason="")
            .values_list("conversation_id", "contact_id", "contact_reason", "resolved_at"))
    return {conversation_id for conversation_id, contact_id, reason, resolved_at in rows
            if any(created - FCR_WINDOW <= resolved_at < created
                   for created in wanted.get((contact_id, reason), ()))}
