"""Seeding in chunks: each chunk of contacts, with all its dependent rows, in one transaction."""

from __future__ import annotations

import operator
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import reduce

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from supportdesk.demo.common import DEFAULT_CHUNK_SIZE, DEFAULT_CONTACTS, DEFAULT_SEED, MAX_CONTACTS, advisory_lock
from supportdesk.demo.contacts import orders_create, status_history_create
from supportdesk.demo.conversations import conversations_create, messages_create
from supportdesk.demo.ongoing import ongoing_conversations_open
from supportdesk.demo.plans import contact_identity, contact_plan
from supportdesk.demo.segments import demo_segments_ensure
from supportdesk.demo.staff import Staff, demo_staff_ensure
from supportdesk.demo.timeline_events import timeline_create
from supportdesk.demo.work_items import work_items_create
from supportdesk.seeding import StepProgress, steps_run
from timeline.models import Contact, TimelineEvent


@dataclass(frozen=True)
class ChunkProgress:
    done: int  # contacts considered so far (created or already there)
    total: int
    rows: int  # rows written so far, all tables
    elapsed_seconds: float


@dataclass
class SeedResult:
    contacts: int
    created: Counter = field(default_factory=Counter)
    elapsed_seconds: float = 0.0
    contacts_seconds: float = 0.0  # writing the contacts and their history, without the staff
    after_seeding: list[str] = field(default_factory=list)  # each registered step's outcome

    @property
    def rows(self) -> int:
        return sum(self.created.values())


def demo_seed(
    *, contacts: int = DEFAULT_CONTACTS, seed: int = DEFAULT_SEED,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    on_progress: Callable[[ChunkProgress], None] | None = None,
    on_step_progress: Callable[[StepProgress], None] | None = None,
) -> SeedResult:
    """Make sure the staff and contacts 0..contacts-1 with their history exist, then run the
    steps the apps registered to run after seeding (`after_seeding`: the reports' counters)."""
    if not 0 <= contacts <= MAX_CONTACTS:
        raise ValueError(f"contacts must be between 0 and {MAX_CONTACTS:,}, not {contacts}.")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, not {chunk_size}.")
    started = time.monotonic()
    result = SeedResult(contacts=contacts)
    staff = demo_staff_ensure()
    now = timezone.now().replace(second=0, microsecond=0)
    contacts_started = time.monotonic()  # password hashing is not part of the rate
    for start in range(0, contacts, chunk_size):
        stop = min(start + chunk_size, contacts)
        with transaction.atomic():
            advisory_lock()
            result.created.update(_chunk_seed(range(start, stop), seed=seed, now=now,
                                              staff=staff))
        if on_progress is not None:
            on_progress(ChunkProgress(done=stop, total=contacts, rows=result.rows,
                                      elapsed_seconds=time.monotonic() - contacts_started))
    result.contacts_seconds = time.monotonic() - contacts_started
    demo_segments_ensure()  # after the contacts: its fill reads them
    result.after_seeding = steps_run(wrote=result.rows > 0, on_progress=on_step_progress)
    result.elapsed_seconds = time.monotonic() - started
    return result


def _chunk_seed(indexes: range, *, seed: int, now: datetime, staff: Staff) -> Counter:
    identities = {contact_identity(i): i for i in indexes}
    external_ids_by_kind: dict[str, list[str]] = {}
    for kind, external_id in identities:
        external_ids_by_kind.setdefault(kind, []).append(external_id)
    # Per kind, so the lookup uses the (kind, external_id) unique index.
    existing = set(
        Contact.objects.filter(reduce(operator.or_, (
            Q(kind=kind, external_id__in=ids) for kind, ids in external_ids_by_kind.items()
        ))).values_list("kind", "external_id")
    ) if identities else set()
    plans = [contact_plan(index=i, seed=seed, now=now)
             for identity, i in identities.items() if identity not in existing]
    created: Counter = Counter()
    if not plans:
        return created

    Contact.objects.bulk_create([plan.contact for plan in plans])
    created["contacts"] = len(plans)
    orders = orders_create(plans)
    created["orders"] = len(orders)
    created["order status changes"] = status_history_create(plans, orders)
    conversations = conversations_create(plans, staff=staff)
    created["messages"] = messages_create(conversations, staff=staff)
    created["timeline events"] = timeline_create(plans, orders, conversations, staff=staff)
    created["work items"], created["routing events"], copied = work_items_create(conversations, staff=staff)
    created["timeline events"] += copied
    ongoing = ongoing_conversations_open(plans, staff=staff)
    created["conversations"] = len(conversations) + len(ongoing)
    created["messages"] += sum(len(c.messages) for _, c, _ in ongoing)
    created["timeline events"] += TimelineEvent.objects.filter(
        subject_type="conversation", subject_id__in=[conversation.pk for _, _, conversation in ongoing]).count()
    return created
