"""Segment membership: filled set-based, kept up to date from the timeline's events (entered
and left recorded), manual members, edits, and the member list other parts read."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from supportdesk.conditions import condition_matches
from supportdesk.models import OutboxEntry
from tests.factories import ContactFactory
from timeline import events
from timeline.models import Contact, TimelineEvent
from workflows.attributes import contact_attributes
from workflows.segments import segment_add, segment_member_ids, segment_remove, services
from workflows.segments.models import Segment, SegmentMember

pytestmark = pytest.mark.django_db

HIGH_VALUE = {"attribute": "contact.lifetime_order_value", "op": "gte", "value": 300}
UNHAPPY_HIGH_VALUE = {"all": [HIGH_VALUE, {"any": [
    {"attribute": "contact.last_rating", "op": "lte", "value": 2},
    {"attribute": "contact.rating_avg_90d", "op": "lt", "value": 3}]}]}


def segment_make(conditions: dict, *, key: str = "high-value", **values) -> Segment:
    segment = Segment(name=key.replace("-", " ").title(), key=key, conditions=conditions, **values)
    services.segment_save(segment=segment)
    return segment


def members(segment: Segment) -> set[int]:
    return set(segment_member_ids(segment.pk))


def contact_change(contact: Contact, **changes) -> None:
    """A change to a contact as producers make it: the row, and its timeline event."""
    Contact.objects.filter(pk=contact.pk).update(**changes)
    events.contact_updated_event(contact=contact, changes=changes, occurred_at=timezone.now(), actor="oms")


def segment_events(contact: Contact, kind: str) -> list[TimelineEvent]:
    return list(TimelineEvent.objects.filter(contact=contact, kind=kind).order_by("id"))


def test_the_first_fill_equals_evaluating_every_contact() -> None:
    # Given contacts of every combination of value and ratings
    contacts = [ContactFactory(lifetime_order_value=Decimal(value), last_rating=rating,
                               rating_avg_90d=average)
                for value in ("0", "299.99", "300", "1200")
                for rating in (None, 1, 2, 3, 5)
                for average in (None, Decimal("2.90"), Decimal("3.00"))]
    # When a segment of unhappy high-value customers is created
    segment = segment_make(UNHAPPY_HIGH_VALUE)
    # Then its members are exactly those the conditions engine picks, one by one
    attributes = contact_attributes([contact.pk for contact in contacts])
    expected = {cid for cid, values in attributes.items() if condition_matches(UNHAPPY_HIGH_VALUE, values)}
    assert members(segment) == expected
    # two values >= 300; of 15 rating pairs, the 6 without a low last rating or average are out
    assert len(expected) == 2 * (15 - 3 * 2)
    # and the fill recorded no entered events (a definition, not something that happened to them)
    assert not TimelineEvent.objects.filter(kind="segment.entered").exists()


def test_an_event_brings_a_contact_in_and_takes_them_out() -> None:
    segment = segment_make(HIGH_VALUE)
    contact = ContactFactory(lifetime_order_value=Decimal("100"))
    assert members(segment) == set()
    # When an event says their lifetime value went up, and the stream is drained
    contact_change(contact, lifetime_order_value=Decimal("450"))
    applied = services.membership_drain()
    # Then they are a member, with an entered event on their timeline
    assert applied >= 1
    assert members(segment) == {contact.pk}
    [entered] = segment_events(contact, "segment.entered")
    assert entered.payload["segment"] == "high-value"
    assert entered.subject_type == "segment" and entered.subject_id == segment.pk
    # When it goes down again
    contact_change(contact, lifetime_order_value=Decimal("20"))
    services.membership_drain()
    # Then they left, once
    assert members(segment) == set()
    assert len(segment_events(contact, "segment.left")) == 1
    # and draining again changes nothing (the segment events themselves are not re-read)
    assert services.membership_drain() == 0
    assert len(segment_events(contact, "segment.entered")) == 1
    assert len(segment_events(contact, "segment.left")) == 1


def test_only_the_contacts_the_events_touched_are_evaluated() -> None:
    segment = segment_make(HIGH_VALUE)
    silent = ContactFactory(lifetime_order_value=Decimal("10"))
    told = ContactFactory(lifetime_order_value=Decimal("10"))
    # Given two contacts that became high-value, only one of them with an event
    Contact.objects.filter(pk=silent.pk).update(lifetime_order_value=Decimal("900"))
    contact_change(told, lifetime_order_value=Decimal("900"))
    services.membership_drain()
    # Then only the one the event named was re-evaluated
    assert members(segment) == {told.pk}
    # and the periodic full refresh catches the other, recording its entry
    changes = services.segment_refresh(segment_id=segment.pk)
    assert changes.entered == [silent.pk] and changes.left == []
    assert members(segment) == {silent.pk, told.pk}
    assert len(segment_events(silent, "segment.entered")) == 1


def test_many_events_are_applied_in_one_batch() -> None:
    segment = segment_make(HIGH_VALUE)
    contacts = [ContactFactory(lifetime_order_value=Decimal("1")) for _ in range(30)]
    with events.buffered():
        for contact in contacts:
            Contact.objects.filter(pk=contact.pk).update(lifetime_order_value=Decimal("301"))
            events.contact_updated_event(contact=contact, changes={"lifetime_order_value": "301"},
                                         occurred_at=timezone.now(), actor="oms")
    assert services.membership_drain(batch_size=1000) == 30
    assert members(segment) == {contact.pk for contact in contacts}
    assert TimelineEvent.objects.filter(kind="segment.entered").count() == 30


def test_manual_members_stay_until_removed() -> None:
    segment = segment_make(HIGH_VALUE)
    contact = ContactFactory(lifetime_order_value=Decimal("5"))
    # When a workflow (or a person) adds a contact the conditions do not hold for
    assert segment_add(segment.pk, contact.pk, actor="workflow:7") is True
    assert segment_add(segment.pk, contact.pk, actor="workflow:7") is False  # idempotent
    # Then they are a member, entered once, and an event about them does not take them out
    contact_change(contact, name="Renamed")
    services.membership_drain()
    assert members(segment) == {contact.pk}
    [entered] = segment_events(contact, "segment.entered")
    assert entered.actor == "workflow:7"
    # When they are removed, they leave
    assert segment_remove(segment.pk, contact.pk, actor="user:1") is True
    assert members(segment) == set()
    assert len(segment_events(contact, "segment.left")) == 1


def test_removing_a_manual_add_keeps_a_contact_the_conditions_hold_for() -> None:
    segment = segment_make(HIGH_VALUE)
    contact = ContactFactory(lifetime_order_value=Decimal("500"))
    services.segment_refresh(segment_id=segment.pk)
    assert segment_add(segment.pk, contact.pk, actor="user:1") is False  # already in
    assert segment_remove(segment.pk, contact.pk, actor="user:1") is False
    assert members(segment) == {contact.pk}
    member = SegmentMember.objects.get(segment=segment, contact=contact)
    assert member.matched and not member.manual


def test_editing_the_conditions_refreshes_members_with_events() -> None:
    mid = ContactFactory(lifetime_order_value=Decimal("500"))
    top = ContactFactory(lifetime_order_value=Decimal("5000"))
    segment = segment_make(HIGH_VALUE)
    assert members(segment) == {mid.pk, top.pk}
    # When the threshold is raised
    segment.conditions = {**HIGH_VALUE, "value": 1000}
    changes = services.segment_save(segment=segment)
    # Then the contact below it left (recorded), the other stayed
    assert changes.left == [mid.pk] and changes.entered == []
    assert members(segment) == {top.pk}
    assert len(segment_events(mid, "segment.left")) == 1


def test_an_inactive_segment_is_emptied_and_not_kept_up_to_date() -> None:
    contact = ContactFactory(lifetime_order_value=Decimal("500"))
    segment = segment_make(HIGH_VALUE)
    segment.is_active = False
    services.segment_save(segment=segment)
    assert members(segment) == set()
    contact_change(contact, lifetime_order_value=Decimal("600"))
    services.membership_drain()
    assert members(segment) == set()


def test_without_an_active_segment_the_timeline_writes_no_entries_for_segments() -> None:
    contact = ContactFactory()
    contact_change(contact, name="Someone")
    assert not OutboxEntry.objects.filter(consumer=services.MEMBERSHIP_CONSUMER).exists()
    segment_make(HIGH_VALUE)
    contact_change(contact, name="Someone else")  # a field no active segment reads
    assert not OutboxEntry.objects.filter(consumer=services.MEMBERSHIP_CONSUMER).exists()
    contact_change(contact, lifetime_order_value=Decimal("900"))  # one it reads
    contact_change(contact, tags=["vip"], name="Someone")  # two fields it does not read
    assert OutboxEntry.objects.filter(consumer=services.MEMBERSHIP_CONSUMER).count() == 1
    segment_make({"all": [{"attribute": "contact.tags", "op": "contains", "value": "vip"}]}, key="tagged")
    contact_change(contact, tags=["vip", "late"])
    assert OutboxEntry.objects.filter(consumer=services.MEMBERSHIP_CONSUMER).count() == 2


def test_member_ids_are_a_queryset_of_contact_ids() -> None:
    contacts = [ContactFactory(lifetime_order_value=Decimal("400")) for _ in range(3)]
    ContactFactory(lifetime_order_value=Decimal("1"))
    segment = segment_make(HIGH_VALUE)
    ids = segment_member_ids(segment.pk)
    assert list(ids) == sorted(contact.pk for contact in contacts)
    assert Contact.objects.filter(id__in=ids).count() == 3  # usable as a subquery


def test_bad_conditions_are_refused_with_every_message() -> None:
    errors = services.segment_conditions_errors({"all": [
        {"attribute": "contact.shoe_size", "op": "eq", "value": 42},
        {"attribute": "contact.tier", "op": "gt", "value": 3},
        {"attribute": "contact.opted_out", "op": "eq", "value": "yes"},
        {"attribute": "contact.conversations_last_400_days", "op": "gte", "value": 1},
    ]})
    assert len(errors) == 4
    assert "shoe_size" in errors[0] and "tier" in errors[1] and "yes" in errors[2]
    assert "conversations_last_400_days" in errors[3]
    [error] = services.segment_conditions_errors(
        {"attribute": "contact.lifetime_order_value", "op": "gte", "value": "lots"})
    assert "lots" in error
    assert services.segment_conditions_errors({"attribute": "contact.low_ratings_last_14_days",
                                               "op": "gte", "value": 1}) == []


def test_incremental_updates_end_where_a_full_evaluation_does() -> None:
    import random

    # Given several segments and contacts, some added by hand
    rng = random.Random(7)
    contacts = [ContactFactory(lifetime_order_value=Decimal(rng.choice(["10", "350", "2000"])),
                               last_rating=rng.choice([None, 1, 4]), preferred_language=rng.choice(["es", "en"]))
                for _ in range(40)]
    specs = {"high-value": HIGH_VALUE, "unhappy": UNHAPPY_HIGH_VALUE,
             "english": {"attribute": "contact.language", "op": "eq", "value": "en"}}
    segments = [segment_make(conditions, key=key) for key, conditions in specs.items()]
    for contact in contacts[:5]:
        segment_add(segments[0].pk, contact.pk, actor="user:1")
    # When random changes arrive as events and are drained
    for contact in rng.sample(contacts, 25):
        contact_change(contact, lifetime_order_value=Decimal(rng.choice(["5", "400", "900"])),
                       last_rating=rng.choice([None, 2, 5]), preferred_language=rng.choice(["es", "en"]))
    services.membership_drain()
    # Then each segment holds what a full evaluation finds (plus the manual members)
    before = {segment.pk: members(segment) for segment in segments}
    for segment in segments:
        changes = services.segment_refresh(segment_id=segment.pk)
        assert (changes.entered, changes.left) == ([], []), segment.key
        assert members(segment) == before[segment.pk]


def test_adding_to_a_missing_segment_is_a_clear_permanent_error() -> None:
    from supportdesk.errors import NotFound
    from workflows.registry import StepFailed

    contact = ContactFactory()
    with pytest.raises(NotFound) as raised:
        segment_add(999_999, contact.pk, actor="workflow:1")
    assert isinstance(raised.value, StepFailed) and "999999" in str(raised.value)
    segment = segment_make(HIGH_VALUE)
    with pytest.raises(StepFailed):
        segment_add(segment.pk, 999_999, actor="workflow:1")


def test_a_new_or_reactivated_segment_is_refreshed_again_once_caches_expired(
        django_capture_on_commit_callbacks) -> None:
    from unittest import mock

    from workflows.segments import tasks

    with mock.patch.object(tasks.segment_refresh, "apply_async", autospec=True) as later, \
            django_capture_on_commit_callbacks(execute=True):
        segment = segment_make(HIGH_VALUE)
        services.segment_save(segment=segment)  # an edit of an active segment: no catch-up
    later.assert_called_once_with((segment.pk,), countdown=services.ACTIVE_CACHE_SECONDS + 1)
