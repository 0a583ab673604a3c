"""The staffing forecast on hand-written counters per hour: each figure worked out here (the
weights, the handle time, the concurrency, the patience, the online agents), in UTC, across
Madrid's clock changes and in a half-hour zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from reports.forecast import DEFAULT_HANDLE_SECONDS, next_week_start, staffing_week
from reports.models import AgentHourRollup, HourRollup
from reports.staffing import agents_needed
from supportdesk.errors import DomainError
from tests.factories import AgentProfileFactory
from tests.reports import story

pytestmark = pytest.mark.django_db

LATER = datetime(2030, 1, 1, tzinfo=UTC)  # "now" long after every week below: its history is whole


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def arrived(queue, hour: datetime, count: int, *, channel: str = "chat", **counters: float) -> None:
    """`count` arrivals in the hour, split over two languages (the forecast sums the rows)."""
    HourRollup.objects.create(hour=hour, queue_id=queue.pk, channel=channel, language="es",
                              arrived=count - count // 2, **counters)
    HourRollup.objects.create(hour=hour, queue_id=queue.pk, channel=channel, language="en", arrived=count // 2)


def held(queue, agent, hour: datetime, *, seconds: float, answered: int, channel: str = "chat") -> None:
    AgentHourRollup.objects.create(hour=hour, agent_id=agent.pk, queue_id=queue.pk, channel=channel,
                                   held_seconds=seconds, answered=answered)


def online(agent, hour: datetime, seconds: float) -> None:
    AgentHourRollup.objects.create(hour=hour, agent_id=agent.pk, queue_id=0, channel="", online_seconds=seconds)


def cell(week, day: date, hour: int):
    found = [staffing for staffing in week.hours if staffing.day == day and staffing.hour == hour]
    assert len(found) == 1
    return found[0]


def test_a_past_weeks_hour_from_the_four_weeks_before_it_weighted_4_3_2_1(django_assert_max_num_queries):
    general, other = story.queue("general", target=60), story.queue("other")
    ana = AgentProfileFactory(capacity={"chat": 4, "voice": 1})
    ben = AgentProfileFactory(capacity={"chat": 2})
    stranger = AgentProfileFactory()  # online, but never held this queue's work
    # Mondays at 10:00 UTC, newest first: 40, 20, 10, 30 arrived. Waits: 300 s answered and
    # 500 s abandoned by 4 who gave up.
    arrived(general, utc(2026, 3, 2, 10), 40, abandoned=3, answer_wait_sum=200, abandon_wait_sum=400)
    arrived(general, utc(2026, 2, 23, 10), 20, abandoned=1, answer_wait_sum=100, abandon_wait_sum=100)
    arrived(general, utc(2026, 2, 16, 10), 10)
    arrived(general, utc(2026, 2, 9, 10), 30)
    arrived(general, utc(2026, 2, 2, 10), 1000)  # five weeks before: not counted
    arrived(other, utc(2026, 3, 2, 10), 500)  # another queue
    # Held 3000 s for 10 answers and 1800 s for 5: 320 s each.
    held(general, ana, utc(2026, 3, 2, 10), seconds=3000, answered=10)
    held(general, ben, utc(2026, 2, 23, 11), seconds=1800, answered=5)
    held(other, stranger, utc(2026, 3, 2, 10), seconds=9000, answered=1)
    # Online at 10:00 a week before: Ana the whole hour, Ben half of it (1.5 agents); the stranger
    # does not count, nor anyone's hour two weeks before.
    online(ana, utc(2026, 3, 2, 10), 3600)
    online(ben, utc(2026, 3, 2, 10), 1800)
    online(stranger, utc(2026, 3, 2, 10), 3600)
    online(ben, utc(2026, 2, 23, 10), 3600)

    with django_assert_max_num_queries(4):
        week = staffing_week(queue=general, week_start=date(2026, 3, 9), now=LATER)

    assert week.history_end == utc(2026, 3, 9, 0)
    (chat,) = week.channels
    assert chat.handle_seconds == pytest.approx(320) and chat.handle_measured
    assert chat.concurrency == 3  # Ana's 4 and Ben's 2 chats at once, averaged
    assert chat.patience_seconds == pytest.approx((300 + 500) / 4)
    monday = cell(week, date(2026, 3, 9), 10)
    assert monday.starts_at == utc(2026, 3, 9, 10)
    assert monday.forecast_arrivals == pytest.approx((4 * 40 + 3 * 20 + 2 * 10 + 1 * 30) / 10)  # 27
    inputs = {"arrivals_per_hour": 27, "handle_seconds": 320, "target_seconds": 60, "service_level_target": 0.8,
              "concurrency": 3}
    assert monday.needed_erlang_c == agents_needed(**inputs).agents
    assert monday.needed_erlang_a == agents_needed(**inputs, patience_seconds=200).agents
    assert monday.needed_erlang_a <= monday.needed_erlang_c
    assert monday.online_last_week == pytest.approx(1.5)
    assert monday.short is (1.5 < monday.needed_erlang_a)
    quiet = cell(week, date(2026, 3, 9), 11)
    assert (quiet.forecast_arrivals, quiet.needed_erlang_c, quiet.online_last_week, quiet.short) == (
        0, 0, 0, False)
    assert len(week.hours) == 168 and week.hours[0].day == date(2026, 3, 9) and week.hours[-1].hour == 23


def test_the_coming_week_uses_only_hours_that_have_ended():
    general = story.queue()
    ana = AgentProfileFactory()
    now = utc(2026, 3, 11, 12, 30)  # a Wednesday
    assert next_week_start(now) == date(2026, 3, 16)
    # Friday 10:00: this week's Friday has not come; last week's is the newest.
    arrived(general, utc(2026, 3, 6, 10), 40)
    held(general, ana, utc(2026, 3, 6, 10), seconds=600, answered=2)
    online(ana, utc(2026, 3, 6, 10), 3600)
    # Wednesday: 11:00 today has ended, 12:00 has not.
    arrived(general, utc(2026, 3, 11, 11), 10)
    arrived(general, utc(2026, 3, 11, 12), 1000)
    arrived(general, utc(2026, 3, 4, 12), 20)

    week = staffing_week(queue=general, week_start=next_week_start(now), now=now)

    assert week.history_end == utc(2026, 3, 11, 12)
    friday = cell(week, date(2026, 3, 20), 10)
    assert friday.forecast_arrivals == pytest.approx(4 * 40 / 10)
    assert friday.online_last_week == pytest.approx(1.0)
    assert cell(week, date(2026, 3, 18), 11).forecast_arrivals == pytest.approx(4 * 10 / 10)
    assert cell(week, date(2026, 3, 18), 12).forecast_arrivals == pytest.approx(4 * 20 / 10)


def test_with_no_answer_and_no_abandon_the_defaults_and_erlang_a_is_erlang_c():
    general = story.queue(target=30)
    arrived(general, utc(2026, 3, 2, 9), 50)

    week = staffing_week(queue=general, week_start=date(2026, 3, 9), now=LATER)

    (chat,) = week.channels
    assert (chat.handle_seconds, chat.handle_measured, chat.concurrency, chat.patience_seconds) == (
        DEFAULT_HANDLE_SECONDS, False, 3, None)  # chat's default capacity
    monday = cell(week, date(2026, 3, 9), 9)
    assert monday.needed_erlang_a == monday.needed_erlang_c == agents_needed(
        arrivals_per_hour=20, handle_seconds=DEFAULT_HANDLE_SECONDS, target_seconds=30,
        service_level_target=0.8, concurrency=3).agents
    assert monday.online_last_week == 0 and monday.short


def test_a_queue_without_history_needs_nobody():
    week = staffing_week(queue=story.queue(), week_start=date(2026, 3, 9), now=LATER)

    assert week.channels == ()
    assert {(hour.needed_erlang_c, hour.needed_erlang_a, hour.forecast_arrivals, hour.short)
            for hour in week.hours} == {(0, 0, 0.0, False)}


def test_each_channel_is_staffed_apart_and_voice_takes_one_call_at_a_time(settings):
    settings.STAFFING_TARGET_SERVICE_LEVEL = 0.9
    general = story.queue(target=20)
    ana = AgentProfileFactory(capacity={"chat": 3, "voice": 2})
    arrived(general, utc(2026, 3, 2, 9), 60, channel="chat")
    arrived(general, utc(2026, 3, 2, 9), 30, channel="voice")
    held(general, ana, utc(2026, 3, 2, 9), seconds=6000, answered=20, channel="chat")
    held(general, ana, utc(2026, 3, 2, 9), seconds=3600, answered=20, channel="voice")

    both = staffing_week(queue=general, week_start=date(2026, 3, 9), now=LATER)
    voice = staffing_week(queue=general, week_start=date(2026, 3, 9), channel="voice", now=LATER)

    assert [(measure.channel, measure.concurrency, measure.handle_seconds) for measure in both.channels] == [
        ("chat", 3, 300), ("voice", 1, 180)]
    chat_needed = agents_needed(arrivals_per_hour=24, handle_seconds=300, target_seconds=20,
                                service_level_target=0.9, concurrency=3).agents
    voice_needed = agents_needed(arrivals_per_hour=12, handle_seconds=180, target_seconds=20,
                                 service_level_target=0.9).agents
    assert cell(both, date(2026, 3, 9), 9).needed_erlang_c == chat_needed + voice_needed
    assert cell(both, date(2026, 3, 9), 9).forecast_arrivals == pytest.approx(36)
    assert [measure.channel for measure in voice.channels] == ["voice"]
    assert cell(voice, date(2026, 3, 9), 9).needed_erlang_c == voice_needed
    assert both.service_level_target == 0.9


# --- the desk's time zone: Madrid's clock changes (29 March and 25 October 2026) ---------------------


@pytest.fixture
def madrid(settings):
    settings.TIME_ZONE = "Europe/Madrid"


@pytest.mark.usefixtures("madrid")
def test_after_the_spring_change_a_local_hour_reads_its_samples_at_their_own_utc_hour():
    general = story.queue()
    ana = AgentProfileFactory()
    # 09:00 in Madrid was 08:00 UTC in winter (CET); it is 07:00 UTC from 29 March (CEST).
    for day in (23, 16, 9, 2):
        arrived(general, utc(2026, 3, day, 8), 10)  # 09:00 local
        arrived(general, utc(2026, 3, day, 7), 100)  # 08:00 local
    online(ana, utc(2026, 3, 23, 8), 3600)
    held(general, ana, utc(2026, 3, 23, 8), seconds=60, answered=1)

    week = staffing_week(queue=general, week_start=date(2026, 3, 30), now=LATER)

    monday = cell(week, date(2026, 3, 30), 9)
    assert monday.starts_at == utc(2026, 3, 30, 7)
    assert monday.forecast_arrivals == pytest.approx(10)
    assert monday.online_last_week == pytest.approx(1.0)
    assert cell(week, date(2026, 3, 30), 8).forecast_arrivals == pytest.approx(100)


@pytest.mark.usefixtures("madrid")
def test_the_hour_the_spring_change_skips_needs_nobody_and_is_no_sample():
    general = story.queue()
    arrived(general, utc(2026, 3, 22, 1), 40)  # Sunday 22 March, 02:00 local (CET)
    arrived(general, utc(2026, 3, 29, 1), 1000)  # Sunday 29 March, 01:00 UTC is 03:00 local (CEST)

    changing = staffing_week(queue=general, week_start=date(2026, 3, 23), now=LATER)
    after = staffing_week(queue=general, week_start=date(2026, 3, 30), now=LATER)

    skipped = cell(changing, date(2026, 3, 29), 2)
    assert (skipped.starts_at, skipped.needed_erlang_c, skipped.online_last_week, skipped.short) == (
        None, 0, None, False)
    assert cell(changing, date(2026, 3, 29), 3).starts_at == utc(2026, 3, 29, 1)
    # Sunday 5 April 02:00: 29 March had no 02:00, so its samples are 22, 15, 8 and 1 March.
    assert cell(after, date(2026, 4, 5), 2).forecast_arrivals == pytest.approx(4 * 40 / 10)
    assert cell(after, date(2026, 4, 5), 3).forecast_arrivals == pytest.approx(4 * 1000 / 10)


@pytest.mark.usefixtures("madrid")
def test_the_autumn_hour_that_happens_twice_counts_per_hour_of_its_two():
    general = story.queue()
    ana = AgentProfileFactory()
    # Sunday 25 October, 02:00 local: 00:00-01:00 UTC (CEST), then 01:00-02:00 UTC (CET) again.
    arrived(general, utc(2026, 10, 25, 0), 10)
    arrived(general, utc(2026, 10, 25, 1), 30)
    online(ana, utc(2026, 10, 25, 0), 3600)
    held(general, ana, utc(2026, 10, 25, 0), seconds=60, answered=1)
    for day in (18, 11, 4):  # 02:00 local is 00:00 UTC on the Sundays before
        arrived(general, utc(2026, 10, day, 0), 10)

    week = staffing_week(queue=general, week_start=date(2026, 10, 26), now=LATER)

    sunday = cell(week, date(2026, 11, 1), 2)
    assert sunday.starts_at == utc(2026, 11, 1, 1)  # CET now
    assert sunday.forecast_arrivals == pytest.approx((4 * 20 + 3 * 10 + 2 * 10 + 1 * 10) / 10)  # 14
    assert sunday.online_last_week == pytest.approx(0.5)  # one agent for one of its two hours


def test_a_half_hour_zone_takes_its_share_of_each_utc_hour(settings):
    settings.TIME_ZONE = "Asia/Kolkata"  # UTC+5:30: 09:00 local is 03:30-04:30 UTC
    general = story.queue()
    arrived(general, utc(2026, 3, 2, 3), 10)
    arrived(general, utc(2026, 3, 2, 4), 30)

    week = staffing_week(queue=general, week_start=date(2026, 3, 9), now=LATER)

    assert cell(week, date(2026, 3, 9), 9).forecast_arrivals == pytest.approx(4 * 20 / 10)


def test_the_coming_week_starts_next_monday_in_the_desks_time_zone(settings):
    settings.TIME_ZONE = "Europe/Madrid"
    assert next_week_start(utc(2026, 3, 9, 12)) == date(2026, 3, 16)  # a Monday: the next one
    assert next_week_start(utc(2026, 3, 15, 23, 30)) == date(2026, 3, 23)  # already Monday 16 in Madrid


@pytest.mark.parametrize("week_start", [date(1999, 12, 27), date(3000, 1, 6)])
def test_a_week_outside_the_desks_era_is_refused(week_start):
    with pytest.raises(DomainError):
        staffing_week(queue=story.queue(), week_start=week_start, now=LATER)
