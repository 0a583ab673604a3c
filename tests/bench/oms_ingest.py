"""OMS webhook ingestion: events per second accepted over HTTP and fully processed.

Starts uvicorn (web) against a scratch database and fires signed order events at the
webhook over real HTTP with many connections at once, twice: first with no worker running
(intake alone; the events wait, stored), then with a Celery worker that first works off
that backlog and then processes the second wave as it arrives. Checks that nothing was
lost or counted twice, and that replayed deliveries are answered as duplicates.

    python -m tests.bench.oms_ingest [--events 20000] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import aiohttp
import uvloop

from integrations.oms.signature import signed_headers
from tests.bench import harness

SECRET = "bench-oms-secret"
STORY = ("created", "preparing", "in_delivery", "delivered")


def build_requests(events: int, customers: int, seed: int = 7) -> tuple[list, Decimal]:
    """Bodies for orders that each go created -> preparing -> in delivery -> delivered."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(hours=1)
    requests: list[bytes] = []
    expected_value = Decimal("0")
    run = uuid.uuid4().hex[:8]
    for number in range(events // len(STORY)):
        order_id = f"B{run}-{number}"
        total = Decimal(rng.randrange(500, 9000)) / 100
        expected_value += total
        customer_id = f"BC{rng.randrange(customers)}"
        for step, status in enumerate(STORY):
            occurred_at = (start + timedelta(seconds=number / 10, milliseconds=step)).isoformat()
            if step == 0:
                data = {"order": {
                    "id": order_id, "status": status, "total": str(total), "currency": "EUR",
                    "placed_at": occurred_at,
                    "customer": {"id": customer_id, "name": f"Customer {customer_id}",
                                 "language": rng.choice(["es", "en", "pt", "it", "pl"])},
                    "courier": {"id": f"BR{rng.randrange(customers // 10 + 1)}",
                                "vehicle": "motorbike", "status": "active"},
                    "partner": {"id": f"BP{rng.randrange(customers // 20 + 1)}",
                                "store_name": "Store", "category": "grocery"},
                    "items": [{"sku": "sku-1", "quantity": 1}],
                }}
                event_type = "order.created"
            else:
                data = {"order": {"id": order_id, "status": status}}
                event_type = "order.status_changed"
            body = json.dumps({"id": f"{order_id}-{step}", "type": event_type,
                               "occurred_at": occurred_at, "data": data}).encode()
            requests.append(body)
    return requests, expected_value


async def fire(url: str, requests: list, concurrency: int, *,
               rate: float = 0.0) -> tuple[float, list[float], dict]:
    """Send every request, `concurrency` at a time: as fast as they are answered, or with
    `rate` (requests a second) the n-th not before n / rate seconds after the first."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue = asyncio.Queue()
    for item in enumerate(requests):
        queue.put_nowait(item)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def sender() -> None:
            while not queue.empty():
                number, body = queue.get_nowait()
                if rate > 0:
                    await asyncio.sleep(start + number / rate - time.perf_counter())
                began = time.perf_counter()
                # Signed as it is sent, as the OMS does: a signature is good for 5 minutes.
                headers = signed_headers(secret=SECRET, body=body)
                async with session.post(url, data=body, headers={
                        **headers, "Content-Type": "application/json"}) as response:
                    await response.read()
                latencies.append((time.perf_counter() - began) * 1000)
                statuses[response.status] = statuses.get(response.status, 0) + 1

        start = began = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        return time.perf_counter() - began, latencies, statuses


def count(connection, sql: str) -> int:
    return connection.execute(sql).fetchone()[0]


def pending(connection) -> int:
    return count(connection, "SELECT count(*) FROM integrations_omsevent WHERE status = 'pending'")


def wait_processed(connection, timeout: float) -> float:
    """Seconds until no event is pending (or the timeout), with progress every 5 s."""
    began = last_report = time.monotonic()
    while (left := pending(connection)) and time.monotonic() - began < timeout:
        if time.monotonic() - last_report > 5:
            harness.step(f"{left} events still pending")
            last_report = time.monotonic()
        time.sleep(0.1)
    return time.monotonic() - began


def rate(name: str, events: int, seconds: float) -> str:
    return harness.rate(name, events / max(seconds, 1e-9), "events/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="events per phase")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds to wait for the worker to process everything")
    harness.add_output_arguments(parser)
    args = parser.parse_args()
    if args.events < len(STORY) or args.concurrency < 1 or args.customers < 20:
        parser.error("--events must be at least 4, --concurrency at least 1, --customers 20+")

    harness.yardsticks()  # before the benchmark's own load, once for the process
    env = harness.bench_env(OMS_WEBHOOK_SECRET=SECRET, OMS_CLIENT="fake")
    harness.prepare_database(env)
    with harness.connect() as connection:
        connection.execute(
            "TRUNCATE integrations_omsevent, timeline_timelineevent, timeline_orderstatuschange,"
            " timeline_order, timeline_contact CASCADE"
        )
    harness.step(f"building 2 x {args.events} events")
    first, first_value = build_requests(args.events, args.customers)
    second, second_value = build_requests(args.events, args.customers)
    total = len(first) + len(second)

    port = harness.free_port()
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    env["CELERY_TASK_DEFAULT_QUEUE"] = queue
    web = [str(harness.VENV_BIN / "uvicorn"), "supportdesk.asgi:application", "--host",
           "127.0.0.1", "--port", str(port), "--workers", str(args.web_workers),
           "--no-access-log", "--log-level", "warning"]
    worker = [str(harness.VENV_BIN / "celery"), "-A", "supportdesk", "worker", "--loglevel",
              "WARNING", "--concurrency", str(args.worker_concurrency), "-Q", f"{queue},{queue}.ticks"]
    url = f"http://127.0.0.1:{port}/integrations/oms/webhook"
    with harness.processes([web], env=env), harness.connect() as connection:
        harness.wait_for_port(port)
        time.sleep(2)  # let every web worker finish booting
        harness.step(f"phase 1: {len(first)} events with {args.concurrency} connections, "
                     "no worker running")
        alone_seconds, alone_latencies, alone_statuses = uvloop.run(
            fire(url, first, args.concurrency))
        backlog = pending(connection)
        harness.step(f"starting the worker on a backlog of {backlog} events")
        with harness.processes([worker], env=env):
            backlog_seconds = wait_processed(connection, args.timeout)
            harness.step(f"phase 2: {len(second)} events while the worker processes them")
            began = time.monotonic()
            busy_seconds, busy_latencies, busy_statuses = uvloop.run(
                fire(url, second, args.concurrency))
            harness.step(f"sent in {busy_seconds:.1f} s; waiting for the worker")
            wait_processed(connection, args.timeout)
            end_to_end_seconds = time.monotonic() - began
            replay = uvloop.run(fire(url, first[:1000], args.concurrency))[2]

        stored = count(connection, "SELECT count(*) FROM integrations_omsevent")
        failed = count(connection, "SELECT count(*) FROM integrations_omsevent "
                                   "WHERE status = 'failed'")
        left = pending(connection)
        orders = count(connection, "SELECT count(*) FROM timeline_order")
        delivered = count(connection, "SELECT count(*) FROM timeline_order "
                                      "WHERE status = 'delivered'")
        value = connection.execute(
            "SELECT coalesce(sum(lifetime_order_value), 0) FROM timeline_contact "
            "WHERE kind = 'customer'").fetchone()[0]

    expected_value = first_value + second_value
    print()
    print("OMS webhook ingestion")
    harness.yardstick_header()
    print(f"  {harness.machine_line()}; web: uvicorn x{args.web_workers}, worker: celery "
          f"x{args.worker_concurrency}, PostgreSQL, Redis and the load generator on the same "
          "machine")
    print(f"  accepted, worker stopped:     {alone_statuses.get(202, 0)} events, "
          f"{rate('accepted, worker stopped', alone_statuses.get(202, 0), alone_seconds)}; "
          f"{harness.describe_latencies(alone_latencies)}")
    print(f"  backlog processed on start:   {backlog} events, "
          f"{rate('backlog processed', backlog, backlog_seconds)}")
    print(f"  accepted, worker processing:  {busy_statuses.get(202, 0)} events, "
          f"{rate('accepted, worker processing', busy_statuses.get(202, 0), busy_seconds)}; "
          f"{harness.describe_latencies(busy_latencies)}")
    print(f"  fully processed end to end:   {len(second)} events, "
          f"{rate('end to end', len(second), end_to_end_seconds)} (first send to last processed)")
    print(f"  replayed 1000 delivered:      statuses {dict(sorted(replay.items()))} "
          "(200 = duplicate)")
    lost = total - stored
    print(f"  lost: {lost}, failed: {failed}, still pending: {left}; orders {orders} "
          f"(delivered {delivered}), lifetime value {value} vs expected {expected_value}")
    ok = (lost == 0 and failed == 0 and left == 0 and orders == total // len(STORY)
          and delivered == orders and Decimal(value) == expected_value
          and replay == {200: min(1000, len(first))}
          and alone_statuses == {202: len(first)} and busy_statuses == {202: len(second)})
    print(f"  consistency: {'OK' if ok else 'FAILED'}")
    harness.json_write(args, benchmark="oms_ingest", consistent=ok)
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
