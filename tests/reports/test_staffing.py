"""The staffing module against published Erlang C examples, and Erlang A against what it must
agree with (Erlang C when nobody gives up; its own limits at a zero and an endless target)."""

import math

import pytest

from reports.staffing import (
    agents_needed,
    average_speed_of_answer,
    erlang_a,
    erlang_b,
    erlang_c,
    service_level,
    staffing_for,
)

# The worked example of call-centre planning guides: 100 calls in half an hour (200 an hour),
# 3 minutes each (10 erlangs), 80 % to be answered within 20 seconds. Published: 14 agents,
# 17.4 % of calls wait, 88.8 % answered within 20 s, 7.8 s average speed of answer, 71.4 %
# occupancy; 13 agents reach 79.6 %, just short.
EXAMPLE = {"arrivals_per_hour": 200, "handle_seconds": 180, "target_seconds": 20}


@pytest.mark.parametrize(("agents", "waits", "level", "speed"), [
    (11, 0.6821, 0.3896, 122.8),
    (12, 0.4494, 0.6402, 40.4),
    (13, 0.2853, 0.7956, 17.1),
    (14, 0.1741, 0.8884, 7.8),
    (15, 0.1020, 0.9415, 3.7),
])
def test_erlang_c_matches_the_published_table_of_the_worked_example(agents, waits, level, speed):
    assert erlang_c(agents, 10.0) == pytest.approx(waits, abs=5e-5)
    assert service_level(agents, 10.0, handle_seconds=180, target_seconds=20) == pytest.approx(level, abs=5e-5)
    assert average_speed_of_answer(agents, 10.0, handle_seconds=180) == pytest.approx(speed, abs=0.05)


def test_the_worked_example_needs_14_agents():
    staffing = agents_needed(**EXAMPLE, service_level_target=0.8)
    assert (staffing.agents, staffing.places) == (14, 14)
    assert staffing.traffic == pytest.approx(10.0)
    assert staffing.occupancy == pytest.approx(10 / 14)
    assert staffing.abandons is None
    # The fewest: one agent fewer misses the target.
    assert staffing_for(13, **EXAMPLE).service_level < 0.8 <= staffing.service_level


def test_a_textbook_queue_waits_about_one_time_in_ten():
    # 120 customers an hour, 3 minutes each (6 erlangs), 10 assistants: "from the Erlang C
    # curve, the probability of waiting is about 0.10".
    assert erlang_c(10, 6.0) == pytest.approx(0.1013, abs=5e-5)


def test_erlang_b_recursion_matches_its_closed_form():
    traffic, places = 7.3, 9
    closed = (traffic ** places / math.factorial(places)) / sum(traffic ** k / math.factorial(k)
                                                              for k in range(places + 1))
    assert erlang_b(places, traffic) == pytest.approx(closed, rel=1e-12)


def test_an_overloaded_queue_always_waits_and_never_meets_a_target():
    assert erlang_c(10, 10.0) == 1.0
    assert service_level(10, 12.0, handle_seconds=180, target_seconds=20) == 0.0
    assert average_speed_of_answer(10, 12.0, handle_seconds=180) == math.inf


def test_thousands_of_places_stay_finite():
    staffing = agents_needed(arrivals_per_hour=60_000, handle_seconds=240, target_seconds=20,
                             service_level_target=0.9)
    assert 4000 < staffing.places < 4200
    assert 0.9 <= staffing.service_level < 1


def test_chats_several_at_a_time_need_fewer_agents_than_places():
    one = agents_needed(arrivals_per_hour=600, handle_seconds=600, target_seconds=60, service_level_target=0.9)
    three = agents_needed(arrivals_per_hour=600, handle_seconds=600, target_seconds=60, service_level_target=0.9,
                          concurrency=3)
    assert three.places == one.places
    assert three.agents == math.ceil(one.places / 3)


def test_a_maximum_occupancy_adds_agents_beyond_the_service_level():
    free = agents_needed(**EXAMPLE, service_level_target=0.8)
    capped = agents_needed(**EXAMPLE, service_level_target=0.8, max_occupancy=0.65)
    assert capped.places == 16  # 10 / 16 = 62.5 %; 10 / 15 = 66.7 % is over the cap
    assert capped.places > free.places


def test_erlang_a_without_abandonment_is_erlang_c():
    model = erlang_a(14, **EXAMPLE, patience_seconds=1e9)
    assert model.waits == pytest.approx(erlang_c(14, 10.0), abs=1e-6)
    assert model.service_level == pytest.approx(service_level(14, 10.0, handle_seconds=180, target_seconds=20),
                                                abs=1e-6)
    assert model.average_wait == pytest.approx(average_speed_of_answer(14, 10.0, handle_seconds=180), rel=1e-4)
    assert model.abandons == pytest.approx(0, abs=1e-6)


def test_erlang_a_limits_at_a_zero_and_an_endless_target():
    now = erlang_a(5, arrivals_per_hour=100, handle_seconds=180, patience_seconds=60, target_seconds=0)
    assert now.service_level == pytest.approx(1 - now.waits, abs=1e-9)  # answered at once: did not wait
    ever = erlang_a(5, arrivals_per_hour=100, handle_seconds=180, patience_seconds=60, target_seconds=50_000)
    assert ever.service_level == pytest.approx(1 - ever.abandons, abs=1e-9)  # answered at all: did not give up


def test_erlang_a_one_place_by_hand():
    # M/M/1+M, one call a minute, 30 s each, patience 60 s: the chain's weights are
    # 1, 2, 2 * 1 / (2 + 1) ... ; the share giving up is the mean line times the patience rate
    # over the arrival rate.
    model = erlang_a(1, arrivals_per_hour=60, handle_seconds=30, patience_seconds=60, target_seconds=0)
    arrival, service, patience = 1 / 60, 1 / 30, 1 / 60
    weights = [1.0]
    for k in range(1, 200):
        weights.append(weights[-1] * arrival / (service + (k - 1) * patience))
    total = sum(weights)
    line = sum((k - 1) * weight / total for k, weight in enumerate(weights) if k >= 1)
    assert model.waits == pytest.approx(1 - weights[0] / total, abs=1e-9)
    assert model.abandons == pytest.approx(line * patience / arrival, abs=1e-9)
    assert model.average_wait == pytest.approx(line / arrival, abs=1e-6)


def test_impatient_callers_abandon_more_and_leave_a_shorter_line():
    patient = erlang_a(12, **EXAMPLE, patience_seconds=600)
    impatient = erlang_a(12, **EXAMPLE, patience_seconds=60)
    assert impatient.abandons > patient.abandons > 0
    assert impatient.average_wait < patient.average_wait


def test_with_the_measured_abandonment_fewer_agents_meet_the_target():
    erlang_c_staffing = agents_needed(**EXAMPLE, service_level_target=0.8)
    erlang_a_staffing = agents_needed(**EXAMPLE, service_level_target=0.8, patience_seconds=120)
    assert erlang_a_staffing.places < erlang_c_staffing.places
    assert erlang_a_staffing.service_level >= 0.8 > staffing_for(
        erlang_a_staffing.places - 1, **EXAMPLE, patience_seconds=120).service_level
    assert 0 < erlang_a_staffing.abandons < 1


@pytest.mark.parametrize(("arrivals", "handle", "target", "level", "patience"), [
    (200, 180, 20, 0.8, None), (200, 180, 20, 0.8, 120), (30, 600, 60, 0.95, 60), (1000, 300, 30, 0.5, 30),
    (3, 900, 0, 0.2, None),
])
def test_the_search_from_the_traffics_share_finds_the_fewest_a_scan_from_one_place_finds(
        arrivals, handle, target, level, patience):
    inputs = {"arrivals_per_hour": arrivals, "handle_seconds": handle, "target_seconds": target,
              "patience_seconds": patience}
    scanned = next(places for places in range(1, 10_000)
                   if staffing_for(places, **inputs).service_level >= level)

    assert agents_needed(**inputs, service_level_target=level).places == scanned


def test_no_work_needs_no_agent():
    assert agents_needed(arrivals_per_hour=0, handle_seconds=180, target_seconds=20,
                         service_level_target=0.8).agents == 0


@pytest.mark.parametrize("arguments", [
    {"arrivals_per_hour": -1, "handle_seconds": 180, "target_seconds": 20, "service_level_target": 0.8},
    {"arrivals_per_hour": 10, "handle_seconds": 0, "target_seconds": 20, "service_level_target": 0.8},
    {"arrivals_per_hour": 10, "handle_seconds": 180, "target_seconds": 20, "service_level_target": 1.0},
    {"arrivals_per_hour": 10, "handle_seconds": 180, "target_seconds": 20, "service_level_target": 0.8,
     "concurrency": 0},
    {"arrivals_per_hour": 10, "handle_seconds": 180, "target_seconds": 20, "service_level_target": 0.8,
     "max_occupancy": 1.5},
])
def test_impossible_inputs_are_refused(arguments):
    with pytest.raises(ValueError):
        agents_needed(**arguments)
