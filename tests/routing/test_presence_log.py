"""The presence log: every change of an agent's presence, whoever makes it, is one row written
in the change's transaction (with its outbox entries); `presence_seconds` reads time in each
presence back from it, as its pure specification `engine.presence_durations` says."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing import engine, selectors, services
from routing.models import (
    PRESENCE_STREAM,
    AgentPresenceChange,
    AgentProfile,
    Presence,
    PresenceReason,
    WorkItem,
)
from supportdesk import outbox
from supportdesk.models import OutboxEntry
from tests.factories import AgentProfileFactory

pytestmark = pytest.mark.django_db

NINE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def hours(n: float) -> datetime:
    """n hours after nine o'clock of the scenarios' day."""
    return NINE + timedelta(hours=n)


def log(profile: AgentProfile) -> list[tuple[str, str, str]]:
    return list(AgentPresenceChange.objects.filter(agent=profile).order_by("at", "id")
                .values_list("previous", "presence", "reason"))


def logged(agent: AgentProfile, *changes: tuple[datetime, str]) -> None:
    AgentPresenceChange.objects.bulk_create(
        AgentPresenceChange(agent=agent, presence=presence, previous="", at=at, reason=PresenceReason.AGENT)
        for at, presence in changes)


@pytest.fixture
def presence_consumer():
    outbox.consumer_register(name="test.presence", stream=PRESENCE_STREAM, handle=lambda ids: None)
    yield
    outbox._consumers.pop("test.presence", None)


# --- writing the log ------------------------------------------------------------------------------


def test_each_change_the_agent_makes_is_one_row_with_what_it_was_before(presence_consumer):
    profile = AgentProfileFactory()

    services.presence_set(user=profile.user, presence=Presence.ONLINE)
    services.presence_set(user=profile.user, presence=Presence.ONLINE)  # the same again: no change
    services.presence_set(user=profile.user, presence=Presence.AWAY)

    assert log(profile) == [("offline", "online", "agent"), ("online", "away", "agent")]
    profile.refresh_from_db()
    last = AgentPresenceChange.objects.filter(agent=profile).latest("at")
    assert profile.presence_since == last.at
    entries = OutboxEntry.objects.filter(stream=PRESENCE_STREAM, consumer="test.presence")
    assert sorted(entries.values_list("ref_id", flat=True)) == sorted(
        AgentPresenceChange.objects.filter(agent=profile).values_list("id", flat=True))


def test_a_change_rolled_back_leaves_no_row():
    profile = AgentProfileFactory()

    with pytest.raises(RuntimeError), transaction.atomic():
        services.presence_set(user=profile.user, presence=Presence.ONLINE)
        raise RuntimeError("the use case around it failed")

    assert log(profile) == []
    assert AgentProfile.objects.get(pk=profile.pk).presence == Presence.OFFLINE


def test_lost_heartbeats_are_logged_as_such(settings):
    settings.ROUTING_HEARTBEAT_TIMEOUT_SECONDS = 90
    profile = AgentProfileFactory()
    services.presence_set(user=profile.user, presence=Presence.ONLINE)
    AgentProfile.objects.filter(pk=profile.pk).update(last_heartbeat_at=timezone.now() - timedelta(seconds=91))

    assert services.agents_heartbeat_expire() == 1

    assert log(profile)[-1] == ("online", "offline", PresenceReason.HEARTBEAT_LOST)


def test_missed_offers_are_logged_as_such(settings):  # no rule: the default queue
    settings.ROUTING_MISSED_OFFERS_AWAY = 2
    profile = AgentProfileFactory(languages=["es"], contact_kinds=["customer"], capacity={"chat": 2})
    services.presence_set(user=profile.user, presence=Presence.ONLINE)
    for conversation_id in (1, 2):
        item = services.work_item_enqueue(conversation_id=conversation_id, channel="chat",
                                          attributes={"language": "es", "contact_kind": "customer"})
        WorkItem.objects.filter(pk=item.pk).update(offer_expires_at=timezone.now() - timedelta(seconds=1))
        services.offers_expire()

    assert log(profile) == [("offline", "online", "agent"), ("online", "away", "missed_offers")]


def test_the_writer_takes_only_known_presences_and_reasons():
    profile = AgentProfileFactory()
    with pytest.raises(ValueError):
        services.presence_record(profile=profile, presence="busy", now=timezone.now(), reason="agent")
    with pytest.raises(ValueError):
        services.presence_record(profile=profile, presence=Presence.ONLINE, now=timezone.now(), reason="whim")
    assert log(profile) == []


def test_a_clock_read_before_the_lock_does_not_put_the_log_out_of_order():
    # Given an agent whose last change is stamped 10:00:05, and a use case whose clock said 10:00:01
    profile = AgentProfileFactory()
    services.presence_record(profile=profile, presence=Presence.ONLINE, now=hours(1) + timedelta(seconds=5),
                             reason=PresenceReason.AGENT)

    services.presence_record(profile=profile, presence=Presence.AWAY, now=hours(1) + timedelta(seconds=1),
                             reason=PresenceReason.MISSED_OFFERS)

    # Then the change is stamped no earlier than the one before it
    stamped = AgentPresenceChange.objects.filter(agent=profile).order_by("id").values_list("at", "presence")
    five_past = hours(1) + timedelta(seconds=5)
    assert list(stamped) == [(five_past, "online"), (five_past, "away")]
    assert selectors.presence_seconds(agent_ids=[profile.pk], start=hours(1), end=hours(2), now=hours(2))[
        profile.pk] == {"online": 0.0, "away": 3595.0, "offline": 0.0}


def test_the_migration_starts_each_agents_log_at_their_presence_since():
    since = hours(-2)
    online = AgentProfileFactory(presence=Presence.ONLINE, presence_since=since)
    never = AgentProfileFactory()  # offline, never changed: no presence_since
    apps = MigrationLoader(connection).project_state(("routing", "0007_agent_presence_change")).apps
    before = timezone.now()

    importlib.import_module("routing.migrations.0007_agent_presence_change").log_start(apps, None)

    rows = {row.agent_id: row for row in AgentPresenceChange.objects.all()}
    assert (rows[online.pk].presence, rows[online.pk].previous, rows[online.pk].at, rows[online.pk].reason) == (
        "online", "", since, "log_start")
    assert rows[never.pk].presence == "offline" and rows[never.pk].at >= before


# --- reading it back: time in each presence ------------------------------------------------------


def test_time_in_each_presence_over_a_window_with_the_open_interval_up_to_now():
    # Given, for a window from 9:00 to 12:00 asked at 11:30:
    # an agent online since 8:00, away 9:30-10:00, online again until 11:00, then offline;
    steady = AgentProfileFactory()
    logged(steady, (hours(-1), "online"), (hours(0.5), "away"), (hours(1), "online"), (hours(2), "offline"))
    # one whose log starts at 10:15 (nothing is known of them before), online ever since;
    late = AgentProfileFactory()
    logged(late, (hours(1.25), "online"))
    # one who changes after the window's end only, and one with no log at all
    after = AgentProfileFactory()
    logged(after, (hours(-3), "away"), (hours(4), "online"))
    silent = AgentProfileFactory()

    seconds = selectors.presence_seconds(agent_ids=[steady.pk, late.pk, after.pk, silent.pk],
                                         start=hours(0), end=hours(3), now=hours(2.5))

    # 9:00-9:30 and 10:00-11:00 online, 9:30-10:00 away, 11:00-11:30 (now) offline
    assert seconds[steady.pk] == {"online": 5400.0, "away": 1800.0, "offline": 1800.0}
    assert seconds[late.pk] == {"online": 4500.0, "away": 0.0, "offline": 0.0}  # 10:15-11:30
    assert seconds[after.pk] == {"online": 0.0, "away": 9000.0, "offline": 0.0}  # 9:00-11:30
    assert seconds[silent.pk] == {"online": 0.0, "away": 0.0, "offline": 0.0}


def test_a_window_that_ended_before_now_stops_at_its_end():
    agent = AgentProfileFactory()
    logged(agent, (hours(-1), "online"), (hours(0.75), "offline"))

    seconds = selectors.presence_seconds(agent_ids=[agent.pk], start=hours(0), end=hours(1), now=hours(5))

    assert seconds[agent.pk] == {"online": 2700.0, "away": 0.0, "offline": 900.0}


def test_a_window_not_begun_by_now_has_no_time():
    agent = AgentProfileFactory()
    logged(agent, (hours(-1), "online"))

    assert selectors.presence_seconds(agent_ids=[agent.pk], start=hours(1), end=hours(2), now=hours(0))[
        agent.pk] == {"online": 0.0, "away": 0.0, "offline": 0.0}


def test_the_pure_specification_on_a_hand_worked_log():
    changes = [(hours(-1), "online"), (hours(0.5), "away"), (hours(0.5), "online"), (hours(2), "offline")]

    assert engine.presence_durations(changes, start=hours(0), stop=hours(2.5)) == {
        "online": 7200.0, "offline": 1800.0}  # the away of no length is no time
    assert engine.presence_durations([], start=hours(0), stop=hours(1)) == {}


_moments = st.integers(min_value=-7200, max_value=7200).map(lambda s: NINE + timedelta(seconds=s))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(logs=st.lists(st.lists(st.tuples(_moments, st.sampled_from(Presence.values)), max_size=8), min_size=1,
                     max_size=3),
       start=_moments, length=st.integers(min_value=0, max_value=7200), now=_moments)
def test_the_query_agrees_with_its_specification(logs, start, length, now):
    AgentPresenceChange.objects.all().delete()
    agents = list(AgentProfile.objects.order_by("pk")[:len(logs)])
    agents += [AgentProfileFactory() for _ in range(len(logs) - len(agents))]
    for agent, changes in zip(agents, logs, strict=True):
        logged(agent, *changes)  # written in list order: the ids order equal times as the list does
    end = start + timedelta(seconds=length)

    seconds = selectors.presence_seconds(agent_ids=[a.pk for a in agents], start=start, end=end, now=now)

    for agent, changes in zip(agents, logs, strict=True):
        expected = engine.presence_durations(changes, start=start, stop=min(end, now))
        assert {p: s for p, s in seconds[agent.pk].items() if s} == pytest.approx(expected)
