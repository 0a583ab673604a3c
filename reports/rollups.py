"""The counters per hour, kept up to date from the events the desk writes, and rebuilt.

Three outbox consumers (supportdesk.outbox) read routing's history, the timeline's
conversation events and the replies people write; a drain round takes a batch of each,
turns them into the conversations they touched (each once, though a resolution has events
on two streams), whose facts are worked out again (reports.facts) and compared with the
stored ones: only the difference goes into the counters (reports.contributions, written by
reports.counters). Replaying an event finds nothing changed; a late one moves its hour's
figures. One writer at a time (an advisory lock), so two drainers never add one difference
twice. A fourth consumer follows the agents' presence.

`rollups_rebuild` works the facts and counters of a date range out again from the raw
records, for a new report, a changed definition or a repair.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, models, transaction
from django.db.models import Q

from conversations.models import MESSAGE_STREAM, Conversation, Message, MessageDirection
from reports import facts as facts_module
from reports import presence
from reports.contributions import Deltas, hour_of
from reports.counters import counters_add, days_recount
from reports.facts import ConversationRow, ItemRow, stored_conversation_facts, stored_item_facts
from reports.models import AgentHourRollup, ConversationFact, HourRollup, ItemFact
from routing.models import HISTORY_STREAM, PRESENCE_STREAM, WorkItem
from supportdesk import advisory_locks, outbox
from timeline.events import EventKind
from timeline.models import TIMELINE_STREAM, TimelineEvent

log = logging.getLogger(__name__)

ROUTING_CONSUMER = "reports.routing"
TIMELINE_CONSUMER = "reports.timeline"
MESSAGES_CONSUMER = "reports.messages"
PRESENCE_CONSUMER = "reports.presence"
CONVERSATION_CONSUMERS = (ROUTING_CONSUMER, TIMELINE_CONSUMER, MESSAGES_CONSUMER)
CONSUMERS = (*CONVERSATION_CONSUMERS, PRESENCE_CONSUMER)
TIMELINE_KINDS = frozenset({EventKind.CONVERSATION_OPENED, EventKind.CONVERSATION_STATUS_CHANGED,
                            EventKind.RATING_GIVEN, EventKind.SURVEY_SENT})

def _lock() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [advisory_locks.REPORTS_ROLLUPS])


@contextmanager
def rollups_lock() -> Iterator[None]:
    """The rollups' one writer, in a transaction of its own (for a writer outside the drains)."""
    with transaction.atomic():
        _lock()
        yield


def conversations_refresh(conversation_ids: Iterable[int]) -> int:
    """Work these conversations' facts out again and add what changed to the counters; the
    facts that changed. In a transaction (the caller's or its own)."""
    ids = set(conversation_ids)
    if not ids:
        return 0
    with transaction.atomic():
        _lock()
        new, new_items = facts_module.conversation_facts(ids)
        old = stored_conversation_facts(ids)
        more = facts_module.earlier_first_contacts(_first_contact_keys_changed(old, new)) - ids
        if more:
            extra, extra_items = facts_module.conversation_facts(more)
            new, new_items, ids = new + extra, new_items + extra_items, ids | more
            old |= stored_conversation_facts(more)
        deltas = Deltas()
        changed = _facts_replace(ids, new, new_items, deltas, old=old)
        counters_add(deltas)
    return changed


def _first_contact_keys_changed(old: dict[int, ConversationRow],
                                new: list[ConversationRow]) -> list[ConversationRow]:
    """The facts (new, or stored ones now gone) that may change an earlier conversation's
    first-contact resolution: those whose contact, contact reason or creation is new. An
    event that changes none of them (a reply, a rating) leaves the earlier ones as they are."""
    new_by_id = {fact.conversation_id: fact for fact in new}
    keys = ("contact_id", "contact_reason", "created_at")
    changed = [fact for fact in new if fact.conversation_id not in old
               or any(getattr(fact, key) != getattr(old[fact.conversation_id], key) for key in keys)]
    changed += [fact for pk, fact in old.items() if pk not in new_by_id
                or any(getattr(fact, key) != getattr(new_by_id[pk], key) for key in keys)]
    return changed


def _facts_replace(ids: set[int], new: list[ConversationRow], new_items: list[ItemRow], deltas: Deltas,
                   *, inside: Callable[[datetime], bool] | None = None, fresh: Deltas | None = None,
                   old: dict[int, ConversationRow] | None = None) -> int:
    """Store the new facts of these conversations in place of the old (`old`: read already),
    adding to `deltas` the difference of their contributions. For a rebuild, `inside` says
    which hours are being rebuilt: their contributions go to `fresh` (whole), the others'
    difference to `deltas`."""
    old = stored_conversation_facts(ids) if old is None else old
    old_items = stored_item_facts(ids)
    new_by_id = {f.conversation_id: f for f in new}
    new_items_by_id = {f.item_id: f for f in new_items}
    changed_facts = [f for f in new if old.get(f.conversation_id) != f]
    changed_items = [f for f in new_items if old_items.get(f.item_id) != f]
    gone = [pk for pk in old if pk not in new_by_id]
    gone_items = [pk for pk in old_items if pk not in new_items_by_id]
    if fresh is None:
        for fact in changed_facts:
            if fact.conversation_id in old:
                deltas.conversation(old[fact.conversation_id], -1)
            deltas.conversation(fact, +1)
        for fact in changed_items:
            if fact.item_id in old_items:
                deltas.item(old_items[fact.item_id], -1)
            deltas.item(fact, +1)
        for pk in gone:
            deltas.conversation(old[pk], -1)
        for pk in gone_items:
            deltas.item(old_items[pk], -1)
    else:
        outside = Deltas()
        for fact in old.values():
            outside.conversation(fact, -1)
        for fact in old_items.values():
            outside.item(fact, -1)
        for fact in new:
            outside.conversation(fact, +1)
            fresh.conversation(fact, +1)
        for fact in new_items:
            outside.item(fact, +1)
            fresh.item(fact, +1)
        split_rebuild(outside, fresh, deltas, inside)
    _facts_upsert(ConversationFact, changed_facts)
    _facts_upsert(ItemFact, changed_items)
    if gone:
        ConversationFact.objects.filter(conversation_id__in=gone).delete()
    if gone_items:
        ItemFact.objects.filter(item_id__in=gone_items).delete()
    return len(changed_facts) + len(changed_items) + len(gone) + len(gone_items)


def _facts_upsert(model: type[ConversationFact | ItemFact], facts: list[ConversationRow] | list[ItemRow]) -> None:
    """Insert or update facts (by primary key) in one statement over an array per column:
    bulk_create would prepare every value of every instance in Python and write a placeholder
    for each (psycopg then splits the query on them), most of a busy drain's time."""
    if not facts:
        return
    fields = model._meta.concrete_fields
    quote = connection.ops.quote_name
    arrays = [[json.dumps(getattr(fact, field.attname)) for fact in facts] if isinstance(field, models.JSONField)
              else [getattr(fact, field.attname) for fact in facts] for field in fields]
    key, columns = quote(fields[0].column), [quote(field.column) for field in fields]
    casts = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT * FROM unnest({casts}) "
                       f"ON CONFLICT ({key}) DO UPDATE SET "
                       f"{', '.join(f'{column} = EXCLUDED.{column}' for column in columns[1:])}", arrays)


def split_rebuild(outside: Deltas, fresh: Deltas, deltas: Deltas, inside: Callable[[datetime], bool]) -> None:
    """Rebuild: the differences of hours outside the range go to `deltas`; of `fresh` only
    the hours inside the range are kept (the range's counters are written from them)."""
    for key, counters in outside.hours.items():
        if not inside(key[0]):
            for name, value in counters.items():
                deltas.hours[key][name] += value
    for key, counters in outside.agents.items():
        if not inside(key[0]):
            for name, value in counters.items():
                deltas.agents[key][name] += value
    for key, wait in outside.wait_max.items():
        if not inside(key[0]):
            deltas.wait_max[key] = max(deltas.wait_max.get(key, 0.0), wait)
    for key, wait in outside.wait_max_removed.items():
        if not inside(key[0]):
            deltas.wait_max_removed[key] = max(deltas.wait_max_removed.get(key, 0.0), wait)
    for mapping in (fresh.hours, fresh.agents, fresh.wait_max):
        for key in [key for key in mapping if not inside(key[0])]:
            del mapping[key]
    fresh.wait_max_removed.clear()


# --- The consumers -----------------------------------------------------------------------------

# While a drain round collects (`_round`), the conversation consumers' handlers add the
# conversations their entries touch here instead of working them out one consumer at a time.
_collecting: ContextVar[set[int] | None] = ContextVar("reports_collecting", default=None)


def _conversations_apply(conversation_ids: set[int]) -> None:
    collecting = _collecting.get()
    if collecting is None:
        conversations_refresh(conversation_ids)
    else:
        collecting |= conversation_ids


def routing_events_apply(event_ids: list[int]) -> None:
    _conversations_apply(set(WorkItem.objects.filter(events__id__in_array=event_ids)
                             .values_list("conversation_id", flat=True)))


def timeline_events_apply(event_ids: list[int]) -> None:
    _conversations_apply(set(TimelineEvent.objects.filter(pk__in_array=event_ids, subject_type="conversation")
                             .values_list("subject_id", flat=True)))


def messages_apply(message_ids: list[int]) -> None:
    _conversations_apply(set(Message.objects.filter(pk__in_array=message_ids)
                             .values_list("conversation_id", flat=True)))


def presence_changes_apply(change_ids: list[int]) -> None:
    """Agents' presence changes: their stretches worked out again, the difference counted."""
    with transaction.atomic():
        _lock()
        deltas = Deltas()
        presence.presence_replace(presence.presence_facts(presence.agents_since(change_ids)), deltas)
        counters_add(deltas)


def _timeline_wants(event: TimelineEvent) -> bool:
    return event.kind in TIMELINE_KINDS


def _message_wants(message: Message) -> bool:
    """A reply a person wrote: what reply times are measured on (the contact's messages are
    read with it; they alone change no figure)."""
    return message.direction == MessageDirection.OUTBOUND and message.author_user_id is not None


def consumers_register() -> None:
    """From the app's ready(): the beat drains them (reports.tasks.rollups_drain)."""
    outbox.consumer_register(name=ROUTING_CONSUMER, stream=HISTORY_STREAM, handle=routing_events_apply)
    outbox.consumer_register(name=TIMELINE_CONSUMER, stream=TIMELINE_STREAM, handle=timeline_events_apply,
                             wants=_timeline_wants)
    outbox.consumer_register(name=MESSAGES_CONSUMER, stream=MESSAGE_STREAM, handle=messages_apply,
                             wants=_message_wants)
    outbox.consumer_register(name=PRESENCE_CONSUMER, stream=PRESENCE_STREAM, handle=presence_changes_apply)


def rollups_drain(*, batch_size: int = 2000, rounds: int | None = None) -> int:
    """Drain every consumer's entries, round after round (a batch of each consumer a round,
    so none waits for the others' backlog) until a round comes back short; the entries
    handled."""
    handled, done = 0, 0
    while rounds is None or done < rounds:
        conversations, more = _conversations_round(batch_size)
        drained = outbox.outbox_drain(consumer=PRESENCE_CONSUMER, batch_size=batch_size)
        handled += conversations + drained.handled
        done += 1
        if not more and drained.handled + drained.failed < batch_size:
            break
    return handled


def _conversations_round(batch_size: int) -> tuple[int, bool]:
    """A batch of each conversation consumer in one transaction, each conversation they touch
    worked out once (a conversation resolved has an event on two streams); (entries handled,
    whether a batch came back full). Should working them out together fail, the round is
    rolled back and done consumer by consumer, where the outbox tries a failing entry alone
    and parks it: one bad conversation never holds the streams back."""
    try:
        with transaction.atomic():
            collected: set[int] = set()
            token = _collecting.set(collected)
            try:
                batches = [outbox.outbox_drain(consumer=name, batch_size=batch_size)
                           for name in CONVERSATION_CONSUMERS]
            finally:
                _collecting.reset(token)
            conversations_refresh(collected)
    except Exception:
        log.warning("Reports: a round of %s could not be worked out together; consumer by consumer",
                    ", ".join(CONVERSATION_CONSUMERS), exc_info=True)
        batches = [outbox.outbox_drain(consumer=name, batch_size=batch_size) for name in CONVERSATION_CONSUMERS]
    return (sum(drained.handled for drained in batches),
            any(drained.handled + drained.failed >= batch_size for drained in batches))


# --- Rebuild -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RebuildProgress:
    done: int
    total: int


def _affected(start: datetime, end: datetime) -> list[int]:
    """Every conversation that contributes to an hour in [start, end), by the raw records or
    by its stored facts (one since deleted takes its contributions with it)."""
    conversations = Conversation.objects.filter(Q(created_at__gte=start, created_at__lt=end)
                                                | Q(resolved_at__gte=start, resolved_at__lt=end))
    items = WorkItem.objects.filter(enqueued_at__lt=end).filter(
        Q(completed_at__gte=start) | Q(completed_at__isnull=True))
    stored = ConversationFact.objects.filter(Q(created_at__gte=start, created_at__lt=end)
                                             | Q(resolved_at__gte=start, resolved_at__lt=end))
    stored_items = ItemFact.objects.filter(enqueued_at__gte=start, enqueued_at__lt=end)
    ids = set(conversations.values_list("pk", flat=True))
    ids |= set(items.values_list("conversation_id", flat=True))
    ids |= set(stored.values_list("conversation_id", flat=True))
    ids |= set(stored_items.values_list("conversation_id", flat=True))
    return sorted(ids)


def rollups_rebuild(start: datetime, end: datetime, *, chunk: int = 1000,
                    on_progress: Callable[[RebuildProgress], None] | None = None) -> int:
    """Work the counters of the hours in [start, end) out again from the raw records (and the
    facts of every conversation that contributes to them; a changed fact's other hours get
    its difference). The worker's drains wait meanwhile (they queue in the outbox); reports
    of the range read partial figures until it ends. The conversations worked out."""
    start, end = hour_of(start), hour_of(end) + (timedelta(0) if end == hour_of(end) else timedelta(hours=1))
    ids = _affected(start, end)

    def inside(hour: datetime) -> bool:
        return start <= hour < end

    with _session_lock():
        with transaction.atomic():
            HourRollup.objects.filter(hour__gte=start, hour__lt=end).delete()
            AgentHourRollup.objects.filter(hour__gte=start, hour__lt=end).delete()
            days_recount(start, end)  # the days' rows stay the sums of the hours' at every step
            deltas, fresh = Deltas(), Deltas()
            presence.presence_replace(presence.presence_facts(presence.agents_in_range(start, end)), deltas,
                                      inside=inside, fresh=fresh)
            counters_add(deltas)
            counters_add(fresh)
        for done in range(0, len(ids), chunk):
            part = set(ids[done:done + chunk])
            with transaction.atomic():
                new, new_items = facts_module.conversation_facts(part)
                deltas, fresh = Deltas(), Deltas()
                _facts_replace(part, new, new_items, deltas, inside=inside, fresh=fresh)
                counters_add(deltas)
                counters_add(fresh)
            if on_progress is not None:
                on_progress(RebuildProgress(done=min(done + chunk, len(ids)), total=len(ids)))
    return len(ids)


class _session_lock:  # noqa: N801 (a context manager, used as a statement)
    """The rollups' advisory lock for the whole rebuild, across its transactions."""

    def __enter__(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [advisory_locks.REPORTS_ROLLUPS])

    def __exit__(self, *exc: object) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [advisory_locks.REPORTS_ROLLUPS])

