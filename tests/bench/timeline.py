"""Timeline and contact search benchmark: a contact's timeline pages and contact search on a
database the size of a large operation's.

In its own database (`<database>_bench_timeline`), generated inside PostgreSQL with
INSERT ... SELECT generate_series (minutes, not hours; kept between runs when complete):
1,000,000 contacts of the three kinds with names in several languages (accents included),
emails, phones and external ids; 1,000,000 orders; 10,000,000 timeline events, 50,000 of them
for one customer. Then, through the real REST endpoints (Django's test client in this process:
URL routing, middleware, authentication, DRF, the query and the JSON; no network):

- the first page of that customer's timeline, and a deep page (the 500th, 25,000 events in,
  reached by following the cursors), and a first page filtered to one kind;
- contact search: partial names with and without accents, partial emails, phones, exact
  external ids and order ids.

    python -m tests.bench.timeline [--contacts 1000000] [--events 10000000] [--repeat 200]

Targets: p95 under 20 ms for the first page, under 50 ms for search.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from tests.bench import harness

DATABASE = "bench_timeline"
HOT_EVENTS = 50_000
PAGE_TARGET_MS = 20.0
SEARCH_TARGET_MS = 50.0

FIRST_NAMES = ["Lucía", "José", "María", "Joaquín", "Inés", "Martí", "Núria", "João", "Conceição", "Łukasz",
               "Zoë", "François", "Hélène", "Jürgen", "Søren", "Ömer", "Şeyma", "Ivan", "Olena", "Giorgi",
               "Ana", "Pedro", "Laura", "Marco", "Giulia", "Andrei", "Ioana", "Dragan", "Mira", "Nikola",
               "Ahmed", "Fatima", "Minji", "Jisoo", "Aigerim", "Nursultan", "Sophie", "Daniel", "Emma", "Noah"]
LAST_NAMES = ["Fernández", "García", "Martínez", "López", "Sánchez", "Pérez", "Gómez", "Muñoz", "Álvarez",
              "Jiménez", "Puig", "Vidal", "Ferrer", "Silva", "Conceição", "Gonçalves", "Nowak", "Wiśniewski",
              "Dubois", "Lefèvre", "Müller", "Schäfer", "Rossi", "Bianchi", "Popescu", "Ionescu", "Horvat",
              "Kovačević", "Petrović", "Jovanović", "Shevchenko", "Kovalenko", "Beridze", "Kim", "Park",
              "Yılmaz", "Kaya", "Ivanov", "Smirnov", "Smith", "Brown", "Taylor", "Nielsen", "Haddad", "Nasser",
              "Abenov", "Asanov", "Dimitrov", "Georgiev", "Novak"]
KINDS = ["order.created", "order.status_changed", "order.delayed", "order.delivered",
         "conversation.opened", "conversation.status_changed", "contact.updated", "order.courier_assigned"]
ACCENTS, PLAIN = "áéíóúñçãõâêôàüöäłśźżčćšžşığëøèÁÉÍÓÚÑÇŁŚŻČŠŽŞÖÜ", "aeiouncaoaeoauoalszzccszsigeoeAEIOUNCLSZCSZSOU"


def _sql_array(values: list[str]) -> str:
    return "(ARRAY[" + ", ".join("'" + value.replace("'", "''") + "'" for value in values) + "])"


def _insert_select(model: Any, expressions: dict[str, str], *, connection: Any, chunk: int, total: int,
                   label: str) -> None:
    """INSERT ... SELECT over generate_series in chunks (progress shown); columns not in
    `expressions` get NULL or their field's default (harness.insert_select_sql)."""
    sql, params = harness.insert_select_sql(model, expressions, connection=connection,
                                            source="generate_series(%s, %s) AS i")
    started = time.monotonic()
    for start in range(1, total + 1, chunk):
        end = min(start + chunk - 1, total)
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, start, end])
        harness.step(f"{label}: {end:,} of {total:,} ({time.monotonic() - started:.0f} s)")


def generate(*, contacts: int, events: int) -> dict[str, int]:
    """The data set; returns the ids the measurements need. Kept when already complete."""
    from django.db import connection

    from timeline.models import Contact, Order, TimelineEvent

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM timeline_contact")
        have_contacts = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM timeline_timelineevent")
        have_events = cursor.fetchone()[0]
    if have_contacts == contacts and have_events == events:
        harness.step(f"the data set is there already ({contacts:,} contacts, {events:,} events)")
    else:
        harness.step("generating the data set (inside PostgreSQL)")
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE timeline_timelineevent, timeline_orderstatuschange, timeline_order, "
                           "timeline_contact RESTART IDENTITY CASCADE")
        first, last = _sql_array(FIRST_NAMES), _sql_array(LAST_NAMES)
        firsts, lasts = len(FIRST_NAMES), len(LAST_NAMES)
        name = f"{first}[1 + i % {firsts}] || ' ' || {last}[1 + (i / {firsts}) % {lasts}]"
        _insert_select(Contact, {
            "kind": "CASE WHEN i % 10 < 8 THEN 'customer' WHEN i % 10 = 8 THEN 'courier' ELSE 'partner' END",
            "external_id": "'C' || lpad(i::text, 8, '0')",
            "name": name,
            "email": f"replace(lower(translate({name}, '{ACCENTS}', '{PLAIN}')), ' ', '.') || i || '@example.com'",
            "phone": "'+34 6' || lpad(((i::bigint * 7919) % 100000000)::text, 8, '0')",
            "preferred_language": "(ARRAY['es','en','ca','pt','fr','it','pl','ro','de','ko'])[1 + i % 10]",
            "lifetime_order_value": "((i * 37) % 5000)::numeric / 10",
            "created_at": "now()", "updated_at": "now()",
        }, connection=connection, chunk=250_000, total=contacts, label="contacts")
        with connection.cursor() as cursor:
            cursor.execute("SELECT min(id) FROM timeline_contact")
            base = cursor.fetchone()[0]
        # Order i belongs to the i-th customer (contacts with i % 10 < 8), round and round.
        customer = f"{base} + (((i - 1) % {contacts * 8 // 10}) / 8) * 10 + ((i - 1) % 8)"
        _insert_select(Order, {
            "external_id": "'O' || lpad(i::text, 9, '0')", "customer": customer,
            "status": "'delivered'", "total": "((i * 13) % 900)::numeric / 10 + 5",
            "placed_at": "now() - (i || ' minutes')::interval", "created_at": "now()", "updated_at": "now()",
        }, connection=connection, chunk=250_000, total=contacts, label="orders")
        with connection.cursor() as cursor:
            cursor.execute("SELECT min(id) FROM timeline_order")
            first_order = cursor.fetchone()[0]
        kinds = _sql_array(KINDS)
        _insert_select(TimelineEvent, {
            "contact": f"CASE WHEN i <= {HOT_EVENTS} THEN {base} "
                       f"ELSE {base} + (i::bigint * 7919) % {contacts} END",
            "occurred_at": "now() - (i || ' seconds')::interval",
            "kind": f"{kinds}[1 + i % {len(KINDS)}]", "actor": "'oms'",
            "payload": "jsonb_build_object('status', 'delivered', 'n', i)",
            "subject_type": "'order'", "subject_id": f"{first_order} + i % {contacts}",
            "created_at": "now()",
        }, connection=connection, chunk=1_000_000, total=events, label="timeline events")
        harness.step("VACUUM ANALYZE")
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE timeline_contact")
            cursor.execute("VACUUM ANALYZE timeline_order")
            cursor.execute("VACUUM ANALYZE timeline_timelineevent")
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM timeline_contact")
        hot = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM timeline_timelineevent WHERE contact_id = %s", [hot])
        hot_events = cursor.fetchone()[0]
    return {"hot": hot, "hot_events": hot_events}


def timed(client: Any, url: str, repeat: int) -> tuple[list[float], Any]:
    latencies, response = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code}: {response.content[:300]!r}")
    return latencies, response


def deep_url(client: Any, url: str, pages: int) -> tuple[str, int]:
    """The URL of the `pages`-th page, by following the cursors (as a reader scrolling would)."""
    seen = 0
    for _ in range(pages - 1):
        body = client.get(url).json()
        seen += len(body["results"])
        if not body.get("next"):
            break
        url = body["next"].split("testserver", 1)[-1]
    return url, seen


SEARCHES = ["lucia fern", "Lucía Fernández", "jose garc", "joao conc", "helene lef", "jurgen mull",
            "lukasz wisn", "omer yilm", "olena shev", "minji kim", "aigerim abe", "garcía", "muñoz",
            "lucia.fernandez", "maria.lopez1", "@example.com", "+34 600", "612 3", "C00012345", "C00999999",
            "O000012345", "O000999999", "kova", "pet", "zoë", "zoe park", "sophie dub", "nikola jov"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=200, help="requests per timeline measurement")
    parser.add_argument("--search-repeat", type=int, default=10, help="runs of every search query")
    harness.add_output_arguments(parser)
    args = parser.parse_args()
    started = time.monotonic()
    harness.yardsticks()  # before the benchmark's own load, once for the process
    harness.test_client_django_setup(database=DATABASE)
    from django.contrib.auth import get_user_model
    from django.test import Client

    ids = generate(contacts=args.contacts, events=args.events)
    user, _ = get_user_model().objects.get_or_create(username="bench-supervisor",
                                                     defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)
    base = f"/api/v1/contacts/{ids['hot']}/timeline/"

    harness.step("timeline pages")
    client.get(base)  # warm
    first, response = timed(client, base, args.repeat)
    assert len(response.json()["results"]) == 50
    url, skipped = deep_url(client, base, 500)
    deep, response = timed(client, url, args.repeat)
    deep_first = response.json()["results"][0]
    filtered, _ = timed(client, base + "?kind=order.delayed", args.repeat)
    harness.step("searches")
    search_latencies: list[float] = []
    by_query: dict[str, float] = {}
    hits: dict[str, int] = {}
    for query in SEARCHES:
        latencies, response = timed(client, f"/api/v1/contacts/search/?q={query}", args.search_repeat)
        search_latencies += latencies[1:] if len(latencies) > 1 else latencies
        by_query[query] = statistics.median(latencies)
        body = response.json()
        hits[query] = len(body["results"] if isinstance(body, dict) else body)

    print()
    print("Timeline and contact search, through the REST endpoints (in process, no network)")
    harness.yardstick_header()
    print(f"  {harness.machine_line()}; PostgreSQL on the same machine")
    print(f"  data: {args.contacts:,} contacts, {args.contacts:,} orders, {args.events:,} timeline events; "
          f"the measured customer has {ids['hot_events']:,}")
    print()
    rows = [["request", "runs", "p50", "p95", "p99", "target p95", "met"]]

    def row(name: str, values: list[float], target: float | None) -> None:
        p95 = harness.percentile(values, 0.95)
        rows.append([name, f"{len(values):,}", f"{statistics.median(values):.1f} ms", f"{p95:.1f} ms",
                     f"{harness.percentile(values, 0.99):.1f} ms",
                     f"< {target:g} ms" if target else "", ("yes" if p95 < target else "NO") if target else ""])

    row("timeline, first page (50 events)", first, PAGE_TARGET_MS)
    row(f"timeline, page 500 ({skipped:,} events in)", deep, None)
    row("timeline, first page, kind=order.delayed", filtered, None)
    row(f"contact search ({len(SEARCHES)} queries)", search_latencies, SEARCH_TARGET_MS)
    harness.table(rows)
    print(f"  the deep page starts at an event of {deep_first['occurred_at']}; "
          f"searches with no result: {[query for query, n in hits.items() if not n] or 'none'}")
    slowest = sorted(by_query.items(), key=lambda item: -item[1])[:3]
    print("  slowest searches (median): " + ", ".join(f"{query!r} {ms:.0f} ms" for query, ms in slowest))
    medians = (("first page", first), ("page 500", deep), ("search", search_latencies))
    print("  against the yardsticks (p50, wall time in this process, where Python does most of the work): "
          + "; ".join(f"{name} {harness.duration(name + ' p50', statistics.median(values))}"
                      for name, values in medians))
    print(f"  wall time: {(time.monotonic() - started) / 60:.1f} min")
    harness.json_write(args, benchmark="timeline", consistent=True)


if __name__ == "__main__":
    main()
