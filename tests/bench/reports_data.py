"""One module of about 950 lines, on purpose: the generator is one ordered script of SQL steps (each
reading what the one before wrote), which reads best top to bottom; split, each part would only make
sense beside the others.

The reports benchmark's data: conversations over months, generated inside PostgreSQL.

`dataset_generate` writes, with set-based SQL only (INSERT ... SELECT over generate_series),
what the desk holds after that many conversations: contacts, queues, contact reasons and
agents; the conversations and their work items; with `history`, the records the reports'
facts are worked out from (routing history, messages, status changes, surveys); and the
reports' own tables: the facts (`ConversationFact`, `ItemFact`, `PresenceFact`) and the
counters per hour (`HourRollup`, `AgentHourRollup`) summed from them in SQL by the rules of
reports.contributions. tests/reports/test_bench_data.py generates a small set with its
history and checks that `rollups_rebuild` works out the same facts and counters.

The shape: conversations arrive by hour with a daily curve (a lunch and a dinner peak, quiet
nights), fewer at weekends (fewest on Sundays) and growth over the period; 13 queues over 4
channels (chat most), 13 languages (es, en, pt, ko, then a long tail), three contact kinds
(customers most), 8 contact reasons, 300 agents in three shifts; waits drawn so that about
80 % are answered within their queue's target (longer at the peaks), about 4 % abandoned,
transfers, reopens, replies, surveys and ratings (about a fifth of the resolved, mostly 4-5).
What is still waiting, held or unresolved at the end is open, as on a real desk.

Every draw is a hash of the conversation's number and the draw's own number (`bench_u`), not
random(): the same conversation comes out the same in every table and statement, whatever
the order or the chunk they are written in, and every run alike (no setseed needed).
"""

from __future__ import annotations

import math
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tests.bench import harness

LOCAL_ZONE = zoneinfo.ZoneInfo("Europe/Madrid")  # where the contacts live: the daily curve's hours
VERSION = 1  # of the data's shape: a kept data set of another version is generated again

LANGUAGES = [("es", 34), ("en", 20), ("pt", 11), ("ko", 8), ("fr", 6), ("it", 5), ("de", 4), ("ca", 3),
             ("pl", 3), ("ro", 2), ("nl", 2), ("tr", 1.2), ("ar", 0.8)]
CHANNELS = [("chat", 52), ("email", 20), ("messaging", 18), ("voice", 10)]
KINDS = [("customer", 85), ("courier", 10), ("partner", 5)]
CONTACT_SHARES = {"customer": 0.85, "courier": 0.10, "partner": 0.05}
REASONS = {"late_order": "Late order", "missing_item": "Missing item", "refund": "Refund",
           "order_status": "Order status", "payment": "Payment", "account": "Account",
           "courier_payout": "Courier payout", "partner_menu": "Partner menu"}
REASONS_BY_KIND = {
    "customer": [("late_order", 28), ("missing_item", 17), ("refund", 15), ("order_status", 15), ("payment", 12),
                 ("account", 11), ("", 2)],
    "courier": [("courier_payout", 45), ("order_status", 25), ("account", 28), ("", 2)],
    "partner": [("partner_menu", 55), ("payment", 25), ("account", 18), ("", 2)],
}


@dataclass(frozen=True)
class QueueSpec:
    key: str
    name: str
    target_wait_seconds: int
    priority: int
    agents: int  # a multiple of 3: one third on each shift
    languages: tuple[str, ...]


QUEUES = [
    QueueSpec("chat.es", "Chat (Spanish)", 60, 50, 60, ("es",)),
    QueueSpec("chat.en", "Chat (English)", 60, 50, 30, ("en",)),
    QueueSpec("chat.pt", "Chat (Portuguese)", 60, 50, 18, ("pt",)),
    QueueSpec("chat.ko", "Chat (Korean)", 60, 50, 12, ("ko",)),
    QueueSpec("chat.intl", "Chat (other languages)", 60, 50, 24, ("fr", "it", "de", "ca", "pl", "en")),
    QueueSpec("email.es", "Email (Spanish)", 14_400, 30, 21, ("es",)),
    QueueSpec("email.intl", "Email (other languages)", 14_400, 30, 18, ("en", "pt", "fr", "it", "de")),
    QueueSpec("messaging", "Messaging", 300, 40, 30, ("es", "en", "pt")),
    QueueSpec("voice.es", "Voice (Spanish)", 20, 70, 18, ("es",)),
    QueueSpec("voice.intl", "Voice (other languages)", 20, 70, 12, ("en", "pt", "ko")),
    QueueSpec("vip", "VIP customers", 30, 90, 15, ("es", "en")),
    QueueSpec("couriers", "Couriers", 60, 80, 27, ("es", "pt", "ro")),
    QueueSpec("partners", "Partners", 300, 60, 15, ("es", "en")),
]
SHIFTS = 3  # night (00-08 local), day (08-16), evening (16-24)

# Relative arrivals by local hour of the day (a delivery business: lunch and dinner peaks) and
# by weekday (Monday first; Sunday lowest).
HOUR_SHAPE = [0.35, 0.22, 0.14, 0.10, 0.09, 0.12, 0.25, 0.50, 0.85, 1.10, 1.25, 1.40,
              1.75, 1.95, 1.70, 1.30, 1.15, 1.15, 1.30, 1.60, 1.90, 1.85, 1.30, 0.70]
WEEKDAY_SHAPE = [1.10, 1.05, 1.00, 1.00, 1.08, 0.85, 0.62]
GROWTH = (0.6, 1.4)  # the arrival level on the first and the last day
HANDLE_MEDIAN_SECONDS = {"chat": 540, "voice": 300, "messaging": 1_800, "email": 900}
FIRST_REPLY = {"chat": (20, 40), "messaging": (60, 240), "email": (120, 600)}  # seconds: least + up to
NEXT_REPLIES_MAX = {"chat": 4, "messaging": 3, "email": 2, "voice": 0}
RATINGS = [(1, 7), (2, 4), (3, 7), (4, 24), (5, 58)]

# Helper tables of the generator (not the desk's): the hours and how many arrive in each, the
# agents' numbering, and the marker of a complete data set.
# The offers' times, the same expression for the history and the facts.
SECOND = "interval '1 second'"
X_OFFERED = f"answered_at - 40 * {SECOND}"  # offered first to x, who let it time out or declined
X_ENDED = f"answered_at - CASE first_offer WHEN 'expired' THEN 10 ELSE 30 END * {SECOND}"
A_OFFERED = f"answered_at - least(4, wait / 2) * {SECOND}"
B_OFFERED = f"transferred_at + 2 * {SECOND}"

HOURS_TABLE = "bench_reports_hour"
AGENTS_TABLE = "bench_reports_agent"
MARKER_TABLE = "bench_reports_dataset"


@dataclass(frozen=True)
class Dataset:
    conversations: int
    days: int
    contacts: int
    start: datetime  # the first local midnight
    end: datetime  # the data's "now": nothing happens after it
    history: bool

    @property
    def last_day(self) -> date:
        return self.end.astimezone(UTC).date()


# --- SQL pieces --------------------------------------------------------------------------------


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'::timestamptz"
    return repr(value)


def _pick(u: str, choices: list[tuple[Any, float]]) -> str:
    """A CASE choosing among `choices` by their weights, for a uniform draw `u` in [0, 1)."""
    total = sum(weight for _value, weight in choices)
    parts, cumulative = [], 0.0
    for value, weight in choices[:-1]:
        cumulative += weight / total
        parts.append(f"WHEN {u} < {cumulative!r} THEN {_literal(value)}")
    return f"(CASE {' '.join(parts)} ELSE {_literal(choices[-1][0])} END)"


def _array(values: list[Any], kind: str) -> str:
    return f"(ARRAY[{', '.join(_literal(value) for value in values)}]::{kind}[])"


def _u(draw: int, number: str = "n") -> str:
    return f"bench_u({number}, {draw})"


def language_of(number: str) -> str:
    """A contact's language, from its number (1..contacts): the conversations' language."""
    return _pick(_u(50, number), LANGUAGES)


FUNCTIONS_SQL = """
    CREATE OR REPLACE FUNCTION bench_u(n bigint, k int) RETURNS float8
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT ((hashint8extended(n, k) & 9007199254740991)::float8 + 0.5) / 9007199254740992.0 $$
"""


def _queue_number(key: str) -> int:
    return next(number for number, spec in enumerate(QUEUES, start=1) if spec.key == key)


def _queue_case() -> str:
    """The queue (its number, 1..13) a conversation is routed to, as routing rules would."""
    q = _queue_number
    return f"""(CASE WHEN kind = 'courier' THEN {q('couriers')} WHEN kind = 'partner' THEN {q('partners')}
                     WHEN {_u(4)} < 0.04 THEN {q('vip')}
                     WHEN channel = 'chat' THEN CASE language WHEN 'es' THEN {q('chat.es')}
                          WHEN 'en' THEN {q('chat.en')} WHEN 'pt' THEN {q('chat.pt')} WHEN 'ko' THEN {q('chat.ko')}
                          ELSE {q('chat.intl')} END
                     WHEN channel = 'email' THEN CASE WHEN language = 'es' THEN {q('email.es')}
                          ELSE {q('email.intl')} END
                     WHEN channel = 'messaging' THEN {q('messaging')}
                     ELSE CASE WHEN language = 'es' THEN {q('voice.es')} ELSE {q('voice.intl')} END END)"""


def _by_channel(values: dict[str, Any]) -> str:
    cases = " ".join(f"WHEN {_literal(key)} THEN {_literal(value)}" for key, value in values.items())
    return f"(CASE channel {cases} END)"


class _Ids:
    """The database ids the plan refers to, found once the reference rows are written."""

    def __init__(self, *, contact_base: int, conversation_base: int, item_base: int, queue_ids: list[int]) -> None:
        self.contact_base = contact_base
        self.conversation_base = conversation_base
        self.item_base = item_base
        self.queue_ids = queue_ids


def plan_sql(dataset: Dataset, ids: _Ids, start: datetime, end: datetime) -> str:
    """One row per conversation arriving in the hours [start, end): every draw and every time
    the tables are written from. Materialized per chunk (a temporary table), so each time is
    rounded to the microsecond once and every table sees the same value. Each level of the
    query is fenced (OFFSET 0): flattened, its expressions would be copied into every use above
    and computed again each time (the plan's size, and its time, multiplied level by level)."""
    now = _literal(dataset.end)
    second = "interval '1 second'"
    contact_counts = _contact_counts(dataset.contacts)
    contact_first = [0, contact_counts[0], contact_counts[0] + contact_counts[1]]
    kinds = _array([kind for kind, _share in KINDS], "text")
    kind_number = _pick(_u(1), [(number, share) for number, (_kind, share) in enumerate(KINDS, start=1)])
    reasons = " ".join(f"WHEN {_literal(kind)} THEN {_pick(_u(5), choices)}"
                       for kind, choices in REASONS_BY_KIND.items())
    reasons = f"(CASE kind {reasons} END)"
    target = f"(ARRAY[{', '.join(str(spec.target_wait_seconds) for spec in QUEUES)}])[queue_number]"
    # The agents: of the queue's shift on duty, the one who answers (a), one offered it first who
    # let the offer time out or declined it (x), and the one it was transferred to (b).
    size = f"(ARRAY[{', '.join(str(spec.agents // SHIFTS) for spec in QUEUES)}])[queue_number]"
    firsts = [sum(spec.agents for spec in QUEUES[:index]) for index in range(len(QUEUES))]
    base = f"((ARRAY[{', '.join(map(str, firsts))}])[queue_number] + shift * {size})"
    a_index = f"floor({_u(12)} * {size})::int"

    def other(u: str) -> str:
        return f"{base} + 1 + mod({a_index} + 1 + floor({u} * greatest({size} - 1, 1))::int, {size})"

    first_reply = f"({_by_channel({key: low for key, (low, _spread) in FIRST_REPLY.items()})} + " \
                  f"{_by_channel({key: spread for key, (_low, spread) in FIRST_REPLY.items()})} * {_u(19)})"
    return f"""
    SELECT r.*,
           r.resolved AND {_u(17)} < 0.04 AS transfer,
           r.resolved AND {_u(18)} < 0.02 AS reopen,
           r.answered_at + r.handle * 0.4 * {second} AS transferred_at,
           r.answered_at + (r.handle * 0.4 + 5) * {second} AS b_accepted_at,
           r.answered_at + r.handle * 0.7 * {second} AS first_resolved_at,
           r.answered_at + r.handle * 0.8 * {second} AS reopened_at,
           CASE WHEN r.first_reply_at IS NOT NULL AND r.resolved
                THEN floor({_u(20)} * ({_by_channel(NEXT_REPLIES_MAX)} + 1))::int ELSE 0 END AS next_replies,
           0.2 + 0.6 * {_u(21)} AS next_reply_share,
           r.resolved AND {_u(22)} < 0.6 AND r.resolved_at + 60 * {second} <= {now} AS surveyed,
           CASE WHEN r.resolved AND {_u(22)} < 0.6 AND {_u(23)} < 0.33 AND r.resolved_at + 600 * {second} <= {now}
                THEN {_pick(_u(24), RATINGS)} END AS rating,
           CASE r.outcome WHEN 'open' THEN 'waiting' WHEN 'abandoned' THEN 'cancelled'
                ELSE CASE WHEN r.resolved THEN 'completed' ELSE 'assigned' END END AS item_state,
           CASE WHEN r.outcome = 'abandoned' THEN 'closed' WHEN r.resolved THEN 'resolved' ELSE 'open' END
               AS status,
           CASE WHEN r.outcome = 'abandoned' THEN r.end_at WHEN r.resolved THEN r.resolved_at END AS completed_at
      FROM (
        SELECT t.*,
               CASE WHEN t.outcome = 'answered' THEN t.end_at END AS answered_at,
               t.outcome = 'answered' AND t.end_at + t.handle * {second} <= {now} AS resolved,
               CASE WHEN t.outcome = 'answered' AND t.end_at + t.handle * {second} <= {now}
                    THEN t.end_at + t.handle * {second} END AS resolved_at,
               -- the first reply within the first 30 % of the time to the resolution
               CASE WHEN t.outcome = 'answered' AND t.channel <> 'voice'
                     AND t.end_at + least({first_reply}, 0.3 * t.handle) * {second} <= {now}
                    THEN t.end_at + least({first_reply}, 0.3 * t.handle) * {second} END AS first_reply_at,
               CASE WHEN t.outcome = 'answered' AND t.wait > 45 AND {_u(11)} < 0.06 THEN 'expired'
                    WHEN t.outcome = 'answered' AND t.wait > 45 AND {_u(11)} < 0.09 THEN 'declined' END
                   AS first_offer
          FROM (
            SELECT w.*,
                   w.enqueued_at + (CASE WHEN w.abandons THEN w.abandon_wait ELSE w.wait END) * {second} AS end_at,
                   CASE WHEN w.enqueued_at + (CASE WHEN w.abandons THEN w.abandon_wait ELSE w.wait END) * {second}
                             > {now} THEN 'open'
                        WHEN w.abandons THEN 'abandoned' ELSE 'answered' END AS outcome,
                   least(greatest(60, {_by_channel(HANDLE_MEDIAN_SECONDS)}
                                  * exp(0.6 * sqrt(-2 * ln({_u(15)})) * cos(2 * pi() * {_u(16)}))), 28800)
                       * CASE WHEN w.kind = 'partner' THEN 1.2 ELSE 1 END AS handle
              FROM (
                SELECT d.*,
                       {ids.item_base} + d.n AS item_id,
                       (ARRAY[{', '.join(map(str, ids.queue_ids))}])[queue_number] AS queue_id,
                       {target} AS target,
                       (ARRAY[{', '.join(str(spec.priority) for spec in QUEUES)}])[queue_number] AS queue_priority,
                       -- 80 % within the target on an average hour, longer at the peaks; a
                       -- fifth of those who leave do so within seconds (a mis-click)
                       least(-ln({_u(6)}) * 0.55 * d.pressure * {target}, 12 * {target}) AS wait,
                       {_u(7)} < (CASE d.channel WHEN 'email' THEN 0.002 WHEN 'voice' THEN 0.07 ELSE 0.045 END)
                                 * d.pressure AS abandons,
                       CASE WHEN {_u(8)} < 0.2 THEN 1 + 3.9 * {_u(9)}
                            ELSE 5 + {_u(9)} * 1.2 * d.pressure * {target} END AS abandon_wait,
                       d.created_at + (0.2 + 1.5 * {_u(10)}) * {second} AS enqueued_at,
                       {base} + 1 + {a_index} AS a_number, {other(_u(13))} AS x_number, {other(_u(14))} AS b_number
                  FROM (
                    SELECT c.*, {_queue_case()} AS queue_number, {reasons} AS reason,
                           least(1.6, greatest(0.5, 0.7 + 0.3 * c.load)) AS pressure
                      FROM (
                        SELECT b.*, {ids.conversation_base} + b.n AS conversation_id,
                               {ids.contact_base} + b.contact_number AS contact_id,
                               {language_of('b.contact_number')} AS language,
                               {_pick(_u(3), CHANNELS)} AS channel
                          FROM (
                            SELECT n, h.load, h.shift,
                                   h.hour_start + (h.hour_end - h.hour_start)
                                       * (((n - h.first_n) + {_u(0)}) / h.n_count) AS created_at,
                                   {kinds}[k.number] AS kind,
                                   (ARRAY[{', '.join(map(str, contact_first))}])[k.number]
                                       + 1 + floor((ARRAY[{', '.join(map(str, contact_counts))}])[k.number]
                                                   * {_u(2)} ^ 1.5)::bigint AS contact_number
                              FROM {HOURS_TABLE} AS h
                                   CROSS JOIN LATERAL generate_series(h.first_n, h.first_n + h.n_count - 1) AS n
                                   CROSS JOIN LATERAL (SELECT {kind_number} AS number) AS k
                             WHERE h.hour_start >= {_literal(start)} AND h.hour_start < {_literal(end)}
                             OFFSET 0) AS b
                         OFFSET 0) AS c
                     OFFSET 0) AS d
                 OFFSET 0) AS w
             OFFSET 0) AS t
         OFFSET 0) AS r"""


def _agents_sql(plan: str) -> str:
    """The plan with its agents' ids (profiles and users), and what follows from who held it."""
    return f"""
    SELECT q.*, a.profile_id AS a_agent, a.user_id AS a_user, x.profile_id AS x_agent,
           b.profile_id AS b_agent, b.user_id AS b_user,
           CASE WHEN q.outcome <> 'answered' THEN 0 WHEN q.transfer THEN b.profile_id ELSE a.profile_id END
               AS last_agent,
           CASE WHEN q.outcome <> 'answered' THEN 0 WHEN q.transfer THEN 2 ELSE 1 END AS holders,
           CASE WHEN NOT q.resolved THEN 0
                WHEN q.transfer THEN extract(epoch FROM q.transferred_at - q.answered_at)
                                     + extract(epoch FROM q.resolved_at - q.b_accepted_at)
                ELSE extract(epoch FROM q.resolved_at - q.answered_at) END::float8 AS handle_seconds
      FROM ({plan}) AS q
      JOIN {AGENTS_TABLE} AS a ON a.number = q.a_number
      JOIN {AGENTS_TABLE} AS x ON x.number = q.x_number
      JOIN {AGENTS_TABLE} AS b ON b.number = q.b_number"""


def _contact_counts(contacts: int) -> list[int]:
    customers = round(contacts * CONTACT_SHARES["customer"])
    couriers = round(contacts * CONTACT_SHARES["courier"])
    return [customers, couriers, contacts - customers - couriers]


# --- the generator -----------------------------------------------------------------------------


Progress = Callable[[str], None]


def _execute(sql: str, params: list | None = None) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params or None)  # without parameters, a `%` is the modulo operator
        return cursor.rowcount


def _scalar(sql: str, params: list | None = None) -> Any:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


def _max_id(model: Any) -> int:
    return _scalar(f"SELECT coalesce(max(id), 0) FROM {model._meta.db_table}")


def _sequence_past(model: Any, last: int) -> None:
    """The table's id sequence moved past the ids written explicitly."""
    table = model._meta.db_table
    _execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), greatest(%s, 1))", [last])


def _insert(model: Any, expressions: dict[str, str], source: str) -> int:
    from django.db import connection

    sql, params = harness.insert_select_sql(model, expressions, connection=connection, source=source)
    return _execute(sql, params)


def hours_weights(start: datetime, end: datetime) -> list[tuple[datetime, datetime, float, float, int]]:
    """Per hour from `start` to `end` (the last one cut at `end`): (start, end, arrivals weight,
    load against an average hour of its day, the agents' shift on duty)."""
    first_day = start.astimezone(LOCAL_ZONE).date()
    days = max((end.astimezone(LOCAL_ZONE).date() - first_day).days, 1)
    hours = []
    mean_shape = sum(HOUR_SHAPE) / 24 * sum(WEEKDAY_SHAPE) / 7
    moment = start.astimezone(UTC)
    while moment < end:
        local = moment.astimezone(LOCAL_ZONE)
        day = (local.date() - first_day).days
        growth = GROWTH[0] + (GROWTH[1] - GROWTH[0]) * day / days
        # A day's own luck: +-8 %, the same for every hour of it.
        luck = 1 + 0.08 * math.sin(day * 12.9898 + 78.233)
        shape = HOUR_SHAPE[local.hour] * WEEKDAY_SHAPE[local.weekday()]
        stop = min(moment + timedelta(hours=1), end)
        weight = growth * luck * shape * (stop - moment).total_seconds() / 3600
        hours.append((moment, stop, weight, shape / mean_shape, local.hour * SHIFTS // 24))
        moment += timedelta(hours=1)
    return hours


def _hours_write(dataset: Dataset) -> None:
    """The hours and how many conversations arrive in each (`first_n`, `n_count`)."""
    _execute(f"DROP TABLE IF EXISTS {HOURS_TABLE}")
    _execute(f"""CREATE TABLE {HOURS_TABLE} (hour_start timestamptz PRIMARY KEY, hour_end timestamptz NOT NULL,
                 first_n bigint NOT NULL, n_count int NOT NULL, load float8 NOT NULL, shift int NOT NULL)""")
    hours = hours_weights(dataset.start, dataset.end)
    total = sum(weight for _start, _end, weight, _load, _shift in hours)
    rows, before = [], 0.0
    for hour_start, hour_end, weight, load, shift in hours:
        first = round(dataset.conversations * before / total)
        before += weight
        last = round(dataset.conversations * before / total)
        if last > first:
            rows.append((hour_start, hour_end, first + 1, last - first, load, shift))
    columns = list(zip(*rows, strict=True))
    _execute(f"""INSERT INTO {HOURS_TABLE} SELECT * FROM unnest(%s::timestamptz[], %s::timestamptz[], %s::bigint[],
                 %s::int[], %s::float8[], %s::int[])""", [list(column) for column in columns])


def _reference_write(dataset: Dataset) -> list[int]:
    """Queues, contact reasons and agents (users and profiles); the queues' ids in QUEUES' order."""
    from django.contrib.auth import get_user_model

    from conversations.models import ContactReason
    from routing.models import AgentProfile, Queue

    queue_ids = []
    for spec in QUEUES:
        queue, _ = Queue.objects.update_or_create(key=spec.key, defaults={
            "name": spec.name, "target_wait_seconds": spec.target_wait_seconds, "priority": spec.priority})
        queue_ids.append(queue.pk)
    for key, label in REASONS.items():
        ContactReason.objects.update_or_create(key=key, defaults={"label": label})
    user_model = get_user_model()
    users, profiles, numbers = [], [], []
    number = 0
    for queue_number, spec in enumerate(QUEUES, start=1):
        for index in range(spec.agents):
            number += 1
            username = f"bench-agent-{number:03d}"
            users.append(user_model(username=username, first_name=spec.name.split(" (")[0],
                                    last_name=f"{number:03d}", password="!", is_active=True))
            profiles.append({"languages": list(spec.languages), "queue": spec.key,
                             "contact_kinds": ["courier"] if spec.key == "couriers" else
                             ["partner"] if spec.key == "partners" else ["customer"]})
            numbers.append((number, queue_number, index // (spec.agents // SHIFTS)))
    user_model.objects.filter(username__startswith="bench-agent-").delete()
    users = user_model.objects.bulk_create(users)
    created = AgentProfile.objects.bulk_create([
        AgentProfile(user=user, languages=profile["languages"], contact_kinds=profile["contact_kinds"],
                     skills=[], tier=2, capacity={"chat": 3, "messaging": 3, "email": 5, "voice": 1})
        for user, profile in zip(users, profiles, strict=True)])
    _execute(f"DROP TABLE IF EXISTS {AGENTS_TABLE}")
    _execute(f"""CREATE TABLE {AGENTS_TABLE} (number int PRIMARY KEY, queue_number int NOT NULL,
                 shift int NOT NULL, profile_id bigint NOT NULL, user_id bigint NOT NULL)""")
    columns = [list(column) for column in zip(*numbers, strict=True)]
    _execute(f"INSERT INTO {AGENTS_TABLE} SELECT * FROM unnest(%s::int[], %s::int[], %s::int[], %s::bigint[], "
             "%s::bigint[])", [*columns, [profile.pk for profile in created], [user.pk for user in users]])
    return queue_ids


def _contacts_write(dataset: Dataset, base: int) -> None:
    from timeline.models import Contact

    counts = _contact_counts(dataset.contacts)
    kind = (f"(CASE WHEN i <= {counts[0]} THEN 'customer' WHEN i <= {counts[0] + counts[1]} THEN 'courier' "
            "ELSE 'partner' END)")
    _insert(Contact, {
        "id": f"{base} + i", "kind": kind, "external_id": "'BR' || lpad(i::text, 8, '0')",
        "name": "'Contact ' || i", "email": "'contact' || i || '@example.com'",
        "preferred_language": language_of("i"), "country": "'ES'",
        "lifetime_order_value": "round((bench_u(i, 51) * 900)::numeric, 2)",
        "order_count": "floor(bench_u(i, 52) * 40)::int",
        "created_at": _literal(dataset.start), "updated_at": _literal(dataset.start),
    }, f"generate_series(1, {dataset.contacts}) AS i")
    _sequence_past(Contact, base + dataset.contacts)


def _conversations_write(source: str) -> int:
    from conversations.models import Conversation

    return _insert(Conversation, {
        "id": "conversation_id", "contact": "contact_id", "channel": "channel", "status": "status",
        "language": "language", "contact_reason": "reason", "priority": "2", "subject": "''",
        "attributes": "'{}'::jsonb",
        "assignee": "CASE WHEN outcome = 'answered' THEN CASE WHEN transfer THEN b_user ELSE a_user END END",
        "last_message_sequence": "CASE WHEN channel = 'voice' THEN 0 ELSE 1 + CASE WHEN first_reply_at IS NULL "
                                 "THEN 0 ELSE 1 + 2 * next_replies END END",
        "last_message_at": "CASE WHEN channel = 'voice' THEN NULL ELSE coalesce(resolved_at, first_reply_at, "
                           "created_at) END",
        "contact_read_sequence": "0", "agent_read_sequence": "0",
        "routed_at": "enqueued_at", "created_at": "created_at", "first_response_at": "first_reply_at",
        "resolved_at": "resolved_at",
        "updated_at": "coalesce(resolved_at, CASE WHEN outcome = 'abandoned' THEN end_at END, first_reply_at, "
                      "answered_at, created_at)",
        "client_id": "''", "rating": "rating",
        "rating_comment": "''", "rated_at": f"CASE WHEN rating IS NOT NULL THEN resolved_at + {_seconds(600)} END",
    }, source)


def _seconds(value: Any) -> str:
    return f"({value}) * interval '1 second'"


def _items_write(source: str) -> int:
    from routing.models import WorkItem

    return _insert(WorkItem, {
        "id": "item_id", "conversation_id": "conversation_id", "channel": "channel", "attributes": "'{}'::jsonb",
        "language": "language", "contact_kind": "kind", "queue": "queue_id", "queue_priority": "queue_priority",
        "priority": "0", "required_skills": "'{}'", "optional_skills": "'{}'", "optional_relaxed": "false",
        "rule_required_skills": "'{}'", "rule_optional_skills": "'{}'", "min_agent_tier": "1", "rule": "''",
        "state": "item_state",
        "agent": "CASE WHEN outcome = 'answered' THEN CASE WHEN transfer THEN b_agent ELSE a_agent END END",
        "declined_by": "CASE WHEN first_offer IS NOT NULL THEN ARRAY[x_agent]::bigint[] ELSE '{}' END",
        "enqueued_at": "enqueued_at", "queued_at": "CASE WHEN transfer THEN transferred_at ELSE enqueued_at END",
        "offered_at": f"CASE WHEN outcome = 'answered' THEN {A_OFFERED} END",
        "assigned_at": "CASE WHEN outcome = 'answered' THEN CASE WHEN transfer THEN b_accepted_at "
                       "ELSE answered_at END END",
        "answered_at": "answered_at", "completed_at": "completed_at",
        "sla_breached_at": f"CASE WHEN outcome <> 'open' AND end_at > enqueued_at + {_seconds('target')} "
                           f"THEN enqueued_at + {_seconds('target')} END",
    }, source)


def _history_write(source: str) -> None:
    """What the facts are worked out from: the items' routing history, the messages, the
    status changes on the timeline and the surveys (only where `history` is asked for)."""
    from conversations.models import Message
    from routing.models import WorkItemEvent
    from timeline.models import TimelineEvent
    from workflows.surveys.models import Survey

    second = "interval '1 second'"
    # Each item's events in time order: (kind, at, agent).
    events = f"""(
        SELECT item_id, queue_id, 'queued' AS kind, enqueued_at AS at, NULL::bigint AS agent, 1 AS step FROM plan
        UNION ALL SELECT item_id, queue_id, 'offered', {X_OFFERED}, x_agent, 2 FROM plan
            WHERE first_offer IS NOT NULL
        UNION ALL SELECT item_id, queue_id, first_offer, {X_ENDED}, x_agent, 3 FROM plan
            WHERE first_offer IS NOT NULL
        UNION ALL SELECT item_id, queue_id, 'offered', {A_OFFERED}, a_agent, 4 FROM plan WHERE outcome = 'answered'
        UNION ALL SELECT item_id, queue_id, 'accepted', answered_at, a_agent, 5 FROM plan
            WHERE outcome = 'answered'
        UNION ALL SELECT item_id, queue_id, 'transferred', transferred_at, a_agent, 6 FROM plan WHERE transfer
        UNION ALL SELECT item_id, queue_id, 'offered', {B_OFFERED}, b_agent, 7 FROM plan WHERE transfer
        UNION ALL SELECT item_id, queue_id, 'accepted', b_accepted_at, b_agent, 8 FROM plan WHERE transfer
        UNION ALL SELECT item_id, queue_id, 'completed', resolved_at,
                         CASE WHEN transfer THEN b_agent ELSE a_agent END, 9 FROM plan WHERE resolved
        UNION ALL SELECT item_id, queue_id, 'cancelled', end_at, NULL, 9 FROM plan WHERE outcome = 'abandoned'
        ORDER BY item_id, step) AS e"""
    _insert(WorkItemEvent, {"item": "e.item_id", "kind": "e.kind", "at": "e.at", "agent": "e.agent",
                            "queue": "e.queue_id", "detail": "'{}'::jsonb"}, events)
    # The contact's first message, the first reply, then each later run: the contact writes
    # (a tenth into its stretch of the time to the resolution) and a person answers.
    author = "CASE WHEN transfer AND {at} > transferred_at THEN b_user ELSE a_user END"
    stretch = "(resolved_at - first_reply_at) / greatest(next_replies, 1)"
    messages = f"""(
        SELECT conversation_id, 1 AS sequence, 'in' AS direction, NULL::bigint AS author, created_at AS at
          FROM plan WHERE channel <> 'voice'
        UNION ALL SELECT conversation_id, 2, 'out', {author.format(at='first_reply_at')}, first_reply_at
          FROM plan WHERE first_reply_at IS NOT NULL
        UNION ALL SELECT conversation_id, 1 + 2 * k, 'in', NULL, first_reply_at + {stretch} * (k - 0.9)
          FROM plan CROSS JOIN LATERAL generate_series(1, next_replies) AS k
        UNION ALL SELECT conversation_id, 2 + 2 * k, 'out',
                         {author.format(at=f'first_reply_at + {stretch} * (k - 0.9)')},
                         first_reply_at + {stretch} * (k - 0.9 + next_reply_share)
          FROM plan CROSS JOIN LATERAL generate_series(1, next_replies) AS k) AS m"""
    _insert(Message, {"conversation": "m.conversation_id", "sequence": "m.sequence", "direction": "m.direction",
                      "author_user": "m.author", "body": "'…'", "channel_metadata": "'{}'::jsonb",
                      "client_id": "''", "created_at": "m.at", "delivery_state": "''", "delivery_detail": "''",
                      "delivery_reference": "''"}, messages)
    statuses = """(
        SELECT contact_id, conversation_id, 'resolved' AS status, first_resolved_at AS at FROM plan WHERE reopen
        UNION ALL SELECT contact_id, conversation_id, 'open', reopened_at FROM plan WHERE reopen
        UNION ALL SELECT contact_id, conversation_id, 'resolved', resolved_at FROM plan WHERE resolved
        UNION ALL SELECT contact_id, conversation_id, 'closed', end_at FROM plan WHERE outcome = 'abandoned'
        ORDER BY at) AS s"""
    _insert(TimelineEvent, {"contact": "s.contact_id", "occurred_at": "s.at",
                            "kind": "'conversation.status_changed'", "actor": "'agent'",
                            "payload": "jsonb_build_object('status', s.status)", "subject_type": "'conversation'",
                            "subject_id": "s.conversation_id", "created_at": "s.at"}, statuses)
    _insert(Survey, {
        "conversation": "conversation_id", "contact": "contact_id", "resolution_event_id": "conversation_id",
        "channel": "channel", "queue_key": "''", "agent": "CASE WHEN transfer THEN b_user ELSE a_user END",
        "language": "language", "state": "CASE WHEN rating IS NULL THEN 'sent' ELSE 'answered' END",
        "created_at": "resolved_at", "due_at": f"resolved_at + 60 * {second}",
        "sent_at": f"resolved_at + 60 * {second}", "sent_reference": "''", "error": "''", "score": "rating",
        "comment": "''", "rated_at": f"CASE WHEN rating IS NOT NULL THEN resolved_at + 600 * {second} END",
    }, "plan WHERE surveyed")


def _epoch(column: str) -> str:
    return f"extract(epoch FROM {column})::float8"


def _facts_write(source: str) -> int:
    """The facts as reports.facts works them out from that history (first-contact resolution
    without its 7-day look ahead: `_first_contact_update` takes that away afterwards)."""
    from reports.models import ConversationFact, ItemFact

    stretch = "(resolved_at - first_reply_at) / greatest(next_replies, 1)"
    # Each later run of the contact's messages, timed to its reply: the same expressions as the
    # messages' times (_history_write), so the same microseconds.
    reply_wait = _epoch(f"({stretch}) * (k - 0.9 + next_reply_share) - ({stretch}) * (k - 0.9)")
    next_sum = f"(SELECT coalesce(sum({reply_wait}), 0) FROM generate_series(1, next_replies) AS k)"
    fields = {
        "conversation_id": "conversation_id", "queue_id": "queue_id", "channel": "channel", "language": "language",
        "contact_kind": "kind", "contact_reason": "reason", "agent_id": "last_agent", "contact_id": "contact_id",
        "created_at": "created_at", "resolved_at": "resolved_at",
        "closed_at": "CASE WHEN outcome = 'abandoned' THEN end_at END",
        "first_reply_seconds": f"{_epoch('first_reply_at - created_at')}",
        "next_reply_count": "next_replies", "next_reply_seconds": next_sum,
        "handle_seconds": "handle_seconds", "reopened": "reopen", "agents": "holders",
        "fcr": "resolved AND NOT reopen AND holders <= 1", "surveyed": "surveyed", "rating": "rating",
    }
    done = _insert(ConversationFact, _for_model(ConversationFact, fields), source)
    offer = "jsonb_build_array({agent}, '{kind}', {at})"
    events = f"""CASE WHEN outcome = 'answered' THEN
        (CASE WHEN first_offer IS NOT NULL THEN jsonb_build_array(
             {offer.format(agent='x_agent', kind='offer', at=_epoch(X_OFFERED))},
             jsonb_build_array(x_agent, CASE first_offer WHEN 'expired' THEN 'missed' ELSE 'declined' END,
                               {_epoch(X_ENDED)}))
         ELSE '[]'::jsonb END)
        || jsonb_build_array({offer.format(agent='a_agent', kind='offer', at=_epoch(A_OFFERED))},
                             {offer.format(agent='a_agent', kind='answered', at=_epoch('answered_at'))})
        || (CASE WHEN transfer THEN jsonb_build_array({offer.format(agent='b_agent', kind='offer',
                                                                    at=_epoch(B_OFFERED))})
            ELSE '[]'::jsonb END)
        ELSE '[]'::jsonb END"""
    held = f"""CASE WHEN NOT resolved THEN '[]'::jsonb
        WHEN transfer THEN jsonb_build_array(
            jsonb_build_array(a_agent, {_epoch('answered_at')}, {_epoch('transferred_at')}),
            jsonb_build_array(b_agent, {_epoch('b_accepted_at')}, {_epoch('resolved_at')}))
        ELSE jsonb_build_array(jsonb_build_array(a_agent, {_epoch('answered_at')}, {_epoch('resolved_at')})) END"""
    items = {
        "item_id": "item_id", "conversation_id": "conversation_id", "queue_id": "queue_id", "channel": "channel",
        "language": "language", "contact_kind": "kind", "contact_reason": "reason", "enqueued_at": "enqueued_at",
        "outcome": "outcome",
        "wait_seconds": f"CASE WHEN outcome = 'open' THEN 0 ELSE {_epoch('end_at - enqueued_at')} END",
        "target_seconds": "target", "agent_events": events, "held": held,
    }
    _insert(ItemFact, _for_model(ItemFact, items), source)
    return done


def _for_model(model: Any, expressions: dict[str, str]) -> dict[str, str]:
    """The expressions for the model's fields: every field needs one (a fact field added to the
    model and not here fails loudly), and one for a field the model has not (yet) is left out."""
    names = {field.name for field in model._meta.concrete_fields}
    missing = names - set(expressions)
    if missing:
        raise LookupError(f"The benchmark's data does not know how to fill {model.__name__}.{sorted(missing)}: "
                          "teach tests/bench/reports_data.py the new field (and its rule in reports.facts).")
    return {name: expression for name, expression in expressions.items() if name in names}


def _first_contact_update(first_id: int, last_id: int) -> int:
    """First-contact resolution needs the contact's later conversations: none from the same
    contact on the same reason created within 7 days after the resolution (reports.facts.FCR_WINDOW)."""
    from conversations.models import Conversation
    from reports.facts import FCR_WINDOW
    from reports.models import ConversationFact

    return _execute(f"""
        UPDATE {ConversationFact._meta.db_table} AS f SET fcr = false
         WHERE f.conversation_id BETWEEN %s AND %s AND f.fcr AND f.contact_reason <> ''
           AND EXISTS (SELECT 1 FROM {Conversation._meta.db_table} AS o
                        WHERE o.contact_id = f.contact_id AND o.created_at > f.resolved_at
                          AND o.created_at <= f.resolved_at + %s AND o.contact_reason = f.contact_reason
                          AND o.id <> f.conversation_id)""", [first_id, last_id, FCR_WINDOW])


def _presence_write(dataset: Dataset) -> int:
    """Each agent's shifts: online 8 hours with a half-hour away in the middle, offline until
    the next shift; two days off a week. The stretch still going at the end is open."""
    from reports.models import PresenceFact

    hour = "interval '1 hour'"
    first_day, last_day = dataset.start.astimezone(LOCAL_ZONE).date(), dataset.end.astimezone(LOCAL_ZONE).date()
    stretches = f"""(
        SELECT row_number() OVER (ORDER BY s.started_at, s.profile_id) AS change_id, s.*
          FROM (
            SELECT profile_id, presence, started_at,
                   coalesce(lead(started_at) OVER (PARTITION BY profile_id ORDER BY started_at),
                            'infinity'::timestamptz) AS ended_at
              FROM (
                SELECT a.profile_id, piece.presence,
                       (day + make_interval(hours => a.shift * 8)) AT TIME ZONE '{LOCAL_ZONE.key}'
                           + piece.offset_hours * {hour} AS started_at
                  FROM {AGENTS_TABLE} AS a
                       CROSS JOIN generate_series({_literal(first_day.isoformat())}::date,
                                                  {_literal(last_day.isoformat())}::date, interval '1 day') AS day
                       CROSS JOIN (VALUES ('online', 0.0), ('away', 4.0), ('online', 4.5), ('offline', 8.0))
                           AS piece(presence, offset_hours)
                 WHERE mod(extract(isodow FROM day)::int + a.number, 7) NOT IN (0, 3)
              ) AS p
          ) AS s
         WHERE s.started_at < {_literal(dataset.end)}) AS stretch"""
    return _insert(PresenceFact, {
        "change_id": "stretch.change_id", "agent_id": "stretch.profile_id", "presence": "stretch.presence",
        "started_at": "stretch.started_at",
        "ended_at": f"CASE WHEN stretch.ended_at <= {_literal(dataset.end)} THEN stretch.ended_at END",
    }, stretches)


# --- the counters, summed from the facts by reports.contributions' rules -----------------------

# Per counter of HourRollup: the facts it is summed from and the SQL of one fact's contribution.
# item: a work item, in the hour it arrived; created / closed / resolved: a conversation, in
# the hour it was created, closed unresolved, resolved.
HOUR_CONTRIBUTIONS = {
    "arrived": ("item", "1"),
    "answered": ("item", "(outcome = 'answered')::int"),
    "answered_in_target": ("item", "(outcome = 'answered' AND wait_seconds <= target_seconds)::int"),
    "abandoned": ("item", "(outcome = 'abandoned' AND wait_seconds >= {short})::int"),
    "abandoned_short": ("item", "(outcome = 'abandoned' AND wait_seconds < {short})::int"),
    "missed_target": ("item", "((outcome = 'answered' OR (outcome = 'abandoned' AND wait_seconds >= {short})) "
                              "AND wait_seconds > target_seconds)::int"),
    "answer_wait_sum": ("item", "CASE WHEN outcome = 'answered' THEN wait_seconds ELSE 0 END"),
    "abandon_wait_sum": ("item", "CASE WHEN outcome = 'abandoned' AND wait_seconds >= {short} THEN wait_seconds "
                                 "ELSE 0 END"),
    "created": ("created", "1"),
    "first_reply_count": ("created", "(first_reply_seconds IS NOT NULL)::int"),
    "first_reply_sum": ("created", "coalesce(first_reply_seconds, 0)"),
    "closed": ("closed", "1"),
    "resolved": ("resolved", "1"),
    "resolution_sum": ("resolved", "extract(epoch FROM resolved_at - created_at)::float8"),
    "handle_sum": ("resolved", "handle_seconds"),
    "reopened": ("resolved", "reopened::int"),
    "fcr": ("resolved", "fcr::int"),
    "next_reply_count": ("resolved", "next_reply_count"),
    "next_reply_sum": ("resolved", "next_reply_seconds"),
    "surveyed": ("resolved", "surveyed::int"),
    "rated": ("resolved", "(rating IS NOT NULL)::int"),
    "rating_sum": ("resolved", "coalesce(rating, 0)"),
    "rating_positive": ("resolved", "coalesce(rating >= 4, false)::int"),
}
HOUR_SOURCES = {
    "item": ("reports_itemfact", "enqueued_at", "TRUE",
             "CASE WHEN outcome IN ('answered', 'abandoned') THEN wait_seconds END"),
    "created": ("reports_conversationfact", "created_at", "TRUE", "NULL::float8"),
    "closed": ("reports_conversationfact", "closed_at", "resolved_at IS NULL", "NULL::float8"),
    "resolved": ("reports_conversationfact", "resolved_at", "TRUE", "NULL::float8"),
}
# AgentHourRollup, per agent: offers, declines, misses and the answer in the hour of each; the
# seconds held split over the hours; resolutions; the seconds in each presence split over the hours.
AGENT_CONTRIBUTIONS = {
    "offers": ("event", "(event ->> 1 = 'offer')::int"),
    "declined": ("event", "(event ->> 1 = 'declined')::int"),
    "missed": ("event", "(event ->> 1 = 'missed')::int"),
    "answered": ("event", "(event ->> 1 = 'answered')::int"),
    "held_seconds": ("held", "seconds"),
    "resolved": ("resolved", "1"),
    "handle_sum": ("resolved", "handle_seconds"),
    "fcr": ("resolved", "fcr::int"),
    "rated": ("resolved", "(rating IS NOT NULL)::int"),
    "rating_sum": ("resolved", "coalesce(rating, 0)"),
    "rating_positive": ("resolved", "coalesce(rating >= 4, false)::int"),
    "online_seconds": ("presence", "CASE WHEN presence = 'online' THEN seconds ELSE 0 END"),
    "away_seconds": ("presence", "CASE WHEN presence = 'away' THEN seconds ELSE 0 END"),
    "offline_seconds": ("presence", "CASE WHEN presence = 'offline' THEN seconds ELSE 0 END"),
}


def _split_hours(start: str, end: str) -> str:
    """[start, end) in epoch seconds as rows of (hour, seconds): reports.contributions.split_hours."""
    return (f"CROSS JOIN LATERAL (SELECT to_timestamp(h * 3600.0) AS hour, "
            f"least({end}, (h + 1) * 3600.0) - greatest({start}, h * 3600.0) AS seconds "
            f"FROM generate_series(floor({start} / 3600)::bigint, ceil({end} / 3600)::bigint - 1) AS h "
            f"WHERE {end} > {start}) AS part")


def _counters(contributions: dict[str, tuple[str, str]], names: tuple[str, ...], source: str) -> str:
    from reports.contributions import SHORT_ABANDON_SECONDS

    unknown = [name for name in names if name not in contributions]
    if unknown:
        raise LookupError(f"The benchmark's data does not know how to sum the counters {unknown}: teach "
                          "tests/bench/reports_data.py their rule (reports.contributions).")
    def expression(name: str) -> str:
        kind, sql = contributions[name]
        return sql.format(short=SHORT_ABANDON_SECONDS) if kind == source else "0"

    return ", ".join(f"{expression(name)} AS {name}" for name in names)


def hour_rollups_write(start: datetime, end: datetime) -> int:
    """HourRollup for the hours [start, end), summed from the facts in one statement."""
    from reports.models import HOUR_COUNTERS, HOUR_DIMENSIONS, HourRollup

    dimensions = ", ".join(HOUR_DIMENSIONS)
    parts = []
    for source, (table, column, condition, wait) in HOUR_SOURCES.items():
        if not any(HOUR_CONTRIBUTIONS[name][0] == source for name in HOUR_COUNTERS):
            continue  # a counter the model has not (yet)
        parts.append(f"SELECT date_trunc('hour', {column}, 'UTC') AS hour, {dimensions}, {wait} AS wait, "
                     f"{_counters(HOUR_CONTRIBUTIONS, HOUR_COUNTERS, source)} FROM {table} "
                     f"WHERE {column} >= %s AND {column} < %s AND {condition}")
    sums = ", ".join(f"sum({name})" for name in HOUR_COUNTERS)
    return _execute(f"""
        INSERT INTO {HourRollup._meta.db_table} (hour, {dimensions}, wait_max, {', '.join(HOUR_COUNTERS)})
        SELECT hour, {dimensions}, coalesce(max(wait), 0), {sums}
          FROM ({' UNION ALL '.join(parts)}) AS contribution
         GROUP BY hour, {dimensions}""", [start, end] * len(parts))


def agent_rollups_write(start: datetime, end: datetime) -> int:
    """AgentHourRollup from the facts of [start, end) (items by arrival, resolutions, presence
    stretches by their start), added to what earlier ranges wrote (an item's offers, or a
    stretch, may reach into the next range's hours)."""
    from reports.models import AGENT_COUNTERS, AGENT_DIMENSIONS, AgentHourRollup

    def select(source: str, body: str) -> str:
        return f"SELECT {body}, {_counters(AGENT_CONTRIBUTIONS, AGENT_COUNTERS, source)}"

    table = AgentHourRollup._meta.db_table
    parts = [
        select("event", "to_timestamp(floor((event ->> 2)::float8 / 3600) * 3600) AS hour, "
                        "(event ->> 0)::int AS agent_id, queue_id, channel")
        + " FROM reports_itemfact CROSS JOIN LATERAL jsonb_array_elements(agent_events) AS event"
          " WHERE enqueued_at >= %s AND enqueued_at < %s",
        select("held", "part.hour, (span ->> 0)::int, queue_id, channel")
        + " FROM reports_itemfact CROSS JOIN LATERAL jsonb_array_elements(held) AS span "
        + _split_hours("(span ->> 1)::float8", "(span ->> 2)::float8")
        + " WHERE enqueued_at >= %s AND enqueued_at < %s",
        select("resolved", "date_trunc('hour', resolved_at, 'UTC'), agent_id, queue_id, channel")
        + " FROM reports_conversationfact WHERE resolved_at >= %s AND resolved_at < %s AND agent_id <> 0",
        select("presence", "part.hour, agent_id, 0, ''")
        + " FROM reports_presencefact "
        + _split_hours(_epoch("started_at"), _epoch("ended_at"))
        + " WHERE started_at >= %s AND started_at < %s AND ended_at IS NOT NULL"
          " AND presence || '_seconds' IN (" + ", ".join(f"'{name}'" for name in AGENT_COUNTERS) + ")",
    ]
    dimensions = ", ".join(AGENT_DIMENSIONS)
    sums = ", ".join(f"sum({name})" for name in AGENT_COUNTERS)
    updates = ", ".join(f"{name} = {table}.{name} + EXCLUDED.{name}" for name in AGENT_COUNTERS)
    return _execute(f"""
        INSERT INTO {table} (hour, {dimensions}, {', '.join(AGENT_COUNTERS)})
        SELECT hour, agent_id, queue_id, channel, {sums}
          FROM ({' UNION ALL '.join(parts)}) AS contribution (hour, agent_id, queue_id, channel,
                                                              {', '.join(AGENT_COUNTERS)})
         GROUP BY hour, agent_id, queue_id, channel
        ON CONFLICT (hour, {dimensions}) DO UPDATE SET {updates}""", [start, end] * len(parts))


# --- the whole data set --------------------------------------------------------------------------


def _chunks(start: datetime, end: datetime, days: int) -> list[tuple[datetime, datetime]]:
    chunks, moment = [], start
    while moment < end:
        chunks.append((moment, min(moment + timedelta(days=days), end)))
        moment += timedelta(days=days)
    return chunks


def dataset_generate(dataset: Dataset, *, progress: Progress | None = None, chunk_rows: int = 300_000) -> None:
    """Write the data set into the current database, beside whatever is there (the ids follow
    the tables' highest). For a big one the caller empties the tables first (`tables_empty`)."""
    from conversations.models import Conversation
    from routing.models import WorkItem
    from timeline.models import Contact

    say = progress or (lambda _message: None)
    began = time.monotonic()

    def done(message: str) -> None:
        say(f"{message} ({time.monotonic() - began:.0f} s)")

    _execute(FUNCTIONS_SQL)
    queue_ids = _reference_write(dataset)
    contact_base = _max_id(Contact)
    _contacts_write(dataset, contact_base)
    done(f"{dataset.contacts:,} contacts, {len(QUEUES)} queues, {sum(spec.agents for spec in QUEUES)} agents")
    _hours_write(dataset)
    ids = _Ids(contact_base=contact_base, conversation_base=_max_id(Conversation), item_base=_max_id(WorkItem),
               queue_ids=queue_ids)
    days_per_chunk = max(1, int(dataset.days * chunk_rows / dataset.conversations))
    chunks = _chunks(dataset.start, dataset.end, days_per_chunk)
    written = 0
    for number, (start, end) in enumerate(chunks, start=1):
        _execute("DROP TABLE IF EXISTS plan")
        _execute(f"CREATE TEMPORARY TABLE plan AS {_agents_sql(plan_sql(dataset, ids, start, end))}")
        written += _conversations_write("plan")
        _items_write("plan")
        if dataset.history:
            _history_write("plan")
        _facts_write("plan")
        _execute("DROP TABLE plan")
        done(f"conversations, work items{', their history' if dataset.history else ''} and facts: "
             f"{written:,} of {dataset.conversations:,} (chunk {number} of {len(chunks)}, "
             f"{start.astimezone(UTC):%Y-%m-%d} to {end.astimezone(UTC):%Y-%m-%d})")
    _sequence_past(Conversation, ids.conversation_base + dataset.conversations)
    _sequence_past(WorkItem, ids.item_base + dataset.conversations)
    step = max(1_000_000, dataset.conversations // 10)
    first = ids.conversation_base + 1
    for low in range(first, first + dataset.conversations, step):
        _first_contact_update(low, min(low + step - 1, ids.conversation_base + dataset.conversations))
        checked = min(low + step - first, dataset.conversations)
        done(f"first-contact resolution (a repeat within 7 days): {checked:,} of {dataset.conversations:,}")
    presence = _presence_write(dataset)
    done(f"{presence:,} presence stretches of the agents")
    rollup_chunks = _chunks(dataset.start, dataset.end + timedelta(hours=1), max(days_per_chunk * 3, 1))
    hours = agents = 0
    for number, (start, end) in enumerate(rollup_chunks, start=1):
        hours += hour_rollups_write(start, end)
        agents += agent_rollups_write(start, end)
        done(f"counters per hour summed from the facts: chunk {number} of {len(rollup_chunks)} "
             f"({hours:,} HourRollup rows, {agents:,} AgentHourRollup rows written or added to)")
    days_derive(dataset.start, dataset.end + timedelta(hours=1), progress=done)


def days_derive(start: datetime, end: datetime, *, progress: Progress) -> None:
    """The counters per day and per hour in total, summed from the counters per hour."""
    from reports.counters import days_recount

    first, last = days_recount(start, end)
    progress(f"counters per day ({first} to {last}) and per hour in total summed from the counters per hour")


def dataset_for(*, conversations: int, days: int, contacts: int, end: datetime, history: bool = False) -> Dataset:
    """`days` days up to `end` (the first starting at a local midnight)."""
    first_day = end.astimezone(LOCAL_ZONE).date() - timedelta(days=days - 1)
    start = datetime.combine(first_day, datetime.min.time(), LOCAL_ZONE).astimezone(UTC)
    return Dataset(conversations=conversations, days=days, contacts=contacts, start=start, end=end,
                   history=history)


# --- kept between runs ---------------------------------------------------------------------------

DATA_TABLES = ["reports_hourrollup", "reports_agenthourrollup", "reports_dayrollup", "reports_agentdayrollup",
               "reports_hourtotalrollup", "reports_conversationfact", "reports_itemfact",
               "reports_presencefact", "routing_workitemevent", "routing_workitem", "conversations_message",
               "conversations_conversation", "timeline_timelineevent", "timeline_contact", "routing_agentprofile",
               "supportdesk_outboxentry"]


def marker_read() -> dict[str, Any] | None:
    """The complete data set's description, or None (none, or one whose writing was interrupted)."""
    _execute(f"""CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (id int PRIMARY KEY, version int NOT NULL,
                 conversations bigint NOT NULL, days int NOT NULL, contacts int NOT NULL,
                 start_at timestamptz NOT NULL, end_at timestamptz NOT NULL, seconds float8 NOT NULL,
                 completed_at timestamptz NOT NULL)""")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT version, conversations, days, contacts, start_at, end_at, seconds, completed_at "
                       f"FROM {MARKER_TABLE} WHERE id = 1")
        row = cursor.fetchone()
    if row is None:
        return None
    names = ("version", "conversations", "days", "contacts", "start", "end", "seconds", "completed_at")
    return dict(zip(names, row, strict=True))


def marker_exists_incomplete() -> bool:
    """No marker, but data: a generation that did not finish."""
    return bool(_scalar("SELECT EXISTS (SELECT 1 FROM conversations_conversation) OR "
                        "EXISTS (SELECT 1 FROM reports_conversationfact)"))


def marker_clear() -> None:
    marker_read()
    _execute(f"DELETE FROM {MARKER_TABLE}")


def marker_write(dataset: Dataset, seconds: float) -> None:
    _execute(f"""INSERT INTO {MARKER_TABLE} VALUES (1, %s, %s, %s, %s, %s, %s, %s, now())""",
             [VERSION, dataset.conversations, dataset.days, dataset.contacts, dataset.start, dataset.end, seconds])


def tables_empty() -> None:
    """Every table the data set writes (and what refers to them), emptied for a new one."""
    _execute(f"TRUNCATE {', '.join(DATA_TABLES)} RESTART IDENTITY CASCADE")
