"""Staffing: how many agents a queue needs in an hour to meet its service level, by Erlang C
and by Erlang A (Erlang C with customers who give up waiting). Pure functions, no database.

The model (M/M/n, and M/M/n+M for Erlang A): work arrives at random (Poisson) at `arrivals`
per hour, each item keeps a place busy for `handle_seconds` on average (exponentially), and
`places` serve at once. An agent who handles `concurrency` chats at a time is that many
places, so agents = ceil(places / concurrency).

- `erlang_c(places, traffic)`: the probability that an arrival waits (traffic in erlangs,
  arrivals x handle time). Computed by the Erlang B recursion, stable for thousands of places.
- `service_level(...)`: the share answered within `target_seconds`:
  1 - C x exp(-(n - A) x t / handle).
- `average_speed_of_answer(...)`: C x handle / (n - A).
- `erlang_a(...)`: with a mean patience (customers abandon after an exponential time of that
  mean, which the measured abandonment gives): the probability to wait, the share answered
  within the target, and the share who abandon, from the birth-death chain of the number in
  the system, and the time to reach an agent from each place in the line (uniformization).
- `agents_needed(...)`: the fewest agents that meet the target service level (and, if set, a
  maximum occupancy), with what they would achieve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# The line is cut where the chance to be that far back is negligible (Erlang A's chain).
_TAIL = 1e-12


def erlang_b(places: int, traffic: float) -> float:
    """The probability that all `places` are busy with no line (Erlang B), by its recursion."""
    if places < 0 or traffic < 0:
        raise ValueError("places and traffic cannot be negative")
    blocked = 1.0
    for k in range(1, places + 1):
        blocked = traffic * blocked / (k + traffic * blocked)
    return blocked


def erlang_c(places: int, traffic: float) -> float:
    """The probability that an arrival waits; 1.0 when the traffic is not below the places
    (the line grows without bound)."""
    if traffic >= places:
        return 1.0
    if traffic == 0:
        return 0.0
    blocked = erlang_b(places, traffic)
    return places * blocked / (places - traffic * (1 - blocked))


def service_level(places: int, traffic: float, *, handle_seconds: float, target_seconds: float) -> float:
    """The share of arrivals answered within `target_seconds` (Erlang C)."""
    if traffic >= places:
        return 0.0
    waits = erlang_c(places, traffic)
    return 1 - waits * math.exp(-(places - traffic) * target_seconds / handle_seconds)


def average_speed_of_answer(places: int, traffic: float, *, handle_seconds: float) -> float:
    """The mean wait in seconds over all arrivals (Erlang C); infinite when overloaded."""
    if traffic >= places:
        return math.inf
    return erlang_c(places, traffic) * handle_seconds / (places - traffic)


@dataclass(frozen=True)
class ErlangA:
    waits: float  # probability that an arrival waits
    service_level: float  # share of arrivals answered within the target
    abandons: float  # share of arrivals who give up before an agent answers
    average_wait: float  # seconds in line, over all arrivals (Little's law)


def erlang_a(places: int, *, arrivals_per_hour: float, handle_seconds: float, patience_seconds: float,
             target_seconds: float) -> ErlangA:
    """Erlang A (M/M/n+M): as Erlang C, but a waiting customer gives up after a random time
    of mean `patience_seconds`. A stable queue whatever the load (those who wait too long leave)."""
    if places < 1:
        raise ValueError("at least one place is needed")
    if arrivals_per_hour < 0 or handle_seconds <= 0 or patience_seconds <= 0 or target_seconds < 0:
        raise ValueError("arrivals cannot be negative; handle time and patience must be positive")
    arrival = arrivals_per_hour / 3600.0
    service, patience = 1.0 / handle_seconds, 1.0 / patience_seconds
    if arrival == 0:
        return ErlangA(waits=0.0, service_level=1.0, abandons=0.0, average_wait=0.0)
    # Stationary distribution of the number in the system (birth-death), in logs to stay finite;
    # an arrival sees it as it is (Poisson arrivals see time averages).
    logs = [0.0]
    while len(logs) <= places or logs[-1] - max(logs) > math.log(_TAIL):
        k = len(logs)
        death = min(k, places) * service + max(k - places, 0) * patience
        logs.append(logs[-1] + math.log(arrival / death))
    top = max(logs)
    weights = [math.exp(value - top) for value in logs]
    total = sum(weights)
    probabilities = [weight / total for weight in weights]
    in_line = probabilities[places:]  # in_line[ahead]: `ahead` customers already waiting
    answered_within = _answered_within(len(in_line), places * service, patience, target_seconds)
    waiting = sum(ahead * p for ahead, p in enumerate(in_line))  # the mean length of the line
    return ErlangA(
        waits=sum(in_line),
        service_level=sum(probabilities[:places])
        + sum(p * answered_within[ahead] for ahead, p in enumerate(in_line)),
        abandons=waiting * patience / arrival,  # the rate of giving up over the rate of arrivals
        average_wait=waiting / arrival,
    )


def _answered_within(line: int, freeing: float, patience: float, seconds: float) -> list[float]:
    """For each number ahead (0 .. line - 1), the probability of reaching an agent within
    `seconds` without giving up first. From `ahead` in line the customer moves up at rate
    `freeing + ahead x patience` (an agent frees, or someone ahead gives up; from 0 ahead:
    answered) and gives up at rate `patience`. By uniformization: at a common rate the
    chain's steps come as a Poisson process, so the probability is the Poisson mixture over
    the number of steps of being answered within that many steps."""
    if line == 0:
        return []
    rates = [freeing + ahead * patience for ahead in range(line)]
    uniform = rates[-1] + patience
    stay = [1 - (rate + patience) / uniform for rate in rates]
    move = [rate / uniform for rate in rates]
    answered = [0.0] * line  # within 0 steps, from each start
    result = [0.0] * line
    mean = uniform * seconds
    log_weight, step, covered = -mean, 0, 0.0
    while covered < 1 - 1e-13 or step < mean:
        weight = math.exp(log_weight)
        covered += weight
        result = [value + weight * reached for value, reached in zip(result, answered, strict=True)]
        # Within one step more: the first step moves up (or answers, from 0 ahead) or stays.
        following = [stay[ahead] * answered[ahead] + move[ahead] * (answered[ahead - 1] if ahead else 1.0)
                     for ahead in range(line)]
        # All within 1e-15? Read from the far end of the line, which settles last, so an
        # unsettled chain is told at its first place rather than after the whole line.
        settled = all(abs(after - before) < 1e-15
                      for after, before in zip(reversed(following), reversed(answered), strict=True))
        if settled:
            # Settled (a target long past the line's drain): the Poisson weights left go to the limit.
            return [value + (1 - covered) * reached for value, reached in zip(result, following, strict=True)]
        answered = following
        step += 1
        log_weight += math.log(mean / step) if mean > 0 else -math.inf
        if mean == 0:
            break
    return result


@dataclass(frozen=True)
class Staffing:
    agents: int
    places: int
    traffic: float  # erlangs: the places busy on average
    service_level: float
    average_wait: float  # seconds, over all arrivals (the average speed of answer for Erlang C)
    occupancy: float  # the places' busy share
    abandons: float | None  # Erlang A only


def staffing_for(places: int, *, arrivals_per_hour: float, handle_seconds: float, target_seconds: float,
                 concurrency: int = 1, patience_seconds: float | None = None) -> Staffing:
    """What `places` would achieve (agents: places over concurrency, rounded up)."""
    traffic = arrivals_per_hour * handle_seconds / 3600.0
    agents = math.ceil(places / concurrency)
    if patience_seconds is None:
        return Staffing(agents=agents, places=places, traffic=traffic,
                        service_level=service_level(places, traffic, handle_seconds=handle_seconds,
                                                    target_seconds=target_seconds),
                        average_wait=average_speed_of_answer(places, traffic, handle_seconds=handle_seconds),
                        occupancy=min(1.0, traffic / places), abandons=None)
    model = erlang_a(places, arrivals_per_hour=arrivals_per_hour, handle_seconds=handle_seconds,
                     patience_seconds=patience_seconds, target_seconds=target_seconds)
    return Staffing(agents=agents, places=places, traffic=traffic, service_level=model.service_level,
                    average_wait=model.average_wait, occupancy=traffic * (1 - model.abandons) / places,
                    abandons=model.abandons)


def agents_needed(*, arrivals_per_hour: float, handle_seconds: float, target_seconds: float,
                  service_level_target: float, concurrency: int = 1, max_occupancy: float | None = None,
                  patience_seconds: float | None = None) -> Staffing:
    """The fewest agents for the hour's forecast arrivals to meet the service level target
    (e.g. 0.8 within 20 s) and, if set, to stay at or under `max_occupancy`. With
    `patience_seconds` (from the measured abandonment), by Erlang A; else by Erlang C. The
    service level only grows with places, so the fewest is found by bisection."""
    if arrivals_per_hour < 0 or handle_seconds <= 0 or target_seconds < 0 or concurrency < 1:
        raise ValueError("arrivals cannot be negative; handle time and concurrency must be positive")
    if not 0 < service_level_target < 1:
        raise ValueError("the service level target is a share between 0 and 1")
    if max_occupancy is not None and not 0 < max_occupancy <= 1:
        raise ValueError("the maximum occupancy is a share above 0, at most 1")
    if arrivals_per_hour == 0:
        return Staffing(agents=0, places=0, traffic=0.0, service_level=1.0, average_wait=0.0, occupancy=0.0,
                        abandons=None if patience_seconds is None else 0.0)

    def at(places: int) -> Staffing:
        return staffing_for(places, arrivals_per_hour=arrivals_per_hour, handle_seconds=handle_seconds,
                            target_seconds=target_seconds, concurrency=concurrency,
                            patience_seconds=patience_seconds)

    def meets(staffing: Staffing) -> bool:
        return staffing.service_level >= service_level_target and (
            max_occupancy is None or staffing.occupancy <= max_occupancy)

    # `low` places do not meet the target; find a `high` that does. n places answer at most n /
    # traffic of the work (each is busy at most all the time), so fewer than the target share of
    # the traffic cannot meet it: starting there spares Erlang A its most overloaded chains,
    # whose lines (and so their cost) are the longest.
    low = max(math.ceil(service_level_target * arrivals_per_hour * handle_seconds / 3600.0) - 1, 0)
    step = 1
    high = low + step
    while not meets(at(high)):
        low, step = high, step * 2
        high = low + step
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if meets(at(middle)) else (middle, high)
    return at(high)
