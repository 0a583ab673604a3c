"""OMS webhook ingestion: events per second accepted over HTTP and fully processed.

Starts uvicorn (web) and a Celery worker against a scratch database, fires signed order
events at the webhook over real HTTP with many connections at once, waits until the
worker has processed every one, and checks that nothing was lost or double counted.

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

from integrations.oms.signature import signed_headers
from tests.bench import harness

SECRET = "bench-oms-secret"
STORY = ("created", "preparing", "in_delivery", "delivered")


def build_requests(events: int, customers: int, seed: int = 7) -> tuple[list, Decimal]:
    """Signed bodies for orders that each go created -> preparing -> in delivery -> delivered."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(hours=1)
    requests: list[tuple[bytes, dict[str, str]]] = []
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
            requests.append((body, signed_headers(secret=SECRET, body=body)))
    return requests, expected_value


async def fire(url: str, requests: list, concurrency: int) -> tuple[float, list[float], dict]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def sender() -> None:
            while not queue.empty():
                body, headers = queue.get_nowait()
                began = time.perf_counter()
                async with session.post(url, data=body, headers={
                        **headers, "Content-Type": "application/json"}) as response:
                    await response.read()
                latencies.append((time.perf_counter() - began) * 1000)
                statuses[response.status] = statuses.get(response.status, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        return time.perf_counter() - began, latencies, statuses


def count(connection, sql: str) -> int:
    return connection.execute(sql).fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds to wait for the worker to process everything")
    args = parser.parse_args()
    if args.events < len(STORY) or args.concurrency < 1 or args.customers < 20:
        parser.error("--events must be at least 4, --concurrency at least 1, --customers 20+")

    env = harness.bench_env(OMS_WEBHOOK_SECRET=SECRET, OMS_CLIENT="fake")
    harness.prepare_database(env)
    with harness.connect() as connection:
        connection.execute(
            "TRUNCATE integrations_omsevent, timeline_timelineevent, timeline_orderstatuschange,"
            " timeline_order, timeline_contact CASCADE"
        )
    harness.step(f"signing {args.events} events")
    requests, expected_value = build_requests(args.events, args.customers)
    total = len(requests)

    port = harness.free_port()
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    env["CELERY_TASK_DEFAULT_QUEUE"] = queue
    commands = [
        [str(harness.VENV_BIN / "uvicorn"), "supportdesk.asgi:application", "--host",
         "127.0.0.1", "--port", str(port), "--workers", str(args.web_workers),
         "--no-access-log", "--log-level", "warning"],
        [str(harness.VENV_BIN / "celery"), "-A", "supportdesk", "worker", "--loglevel",
         "WARNING", "--concurrency", str(args.worker_concurrency), "-Q", queue],
    ]
    with harness.processes(commands, env=env):
        harness.wait_for_port(port)
        time.sleep(2)  # let every web worker and the Celery worker finish booting
        url = f"http://127.0.0.1:{port}/integrations/oms/webhook"
        harness.step(f"sending {total} events with {args.concurrency} connections")
        began = time.perf_counter()
        send_seconds, latencies, statuses = asyncio.run(fire(url, requests, args.concurrency))
        harness.step(f"sent in {send_seconds:.1f} s; waiting for the worker")
        with harness.connect() as connection:
            deadline = time.monotonic() + args.timeout
            last_report = 0.0
            while True:
                done = count(connection, "SELECT count(*) FROM integrations_omsevent "
                                         "WHERE status <> 'pending'")
                if done >= total or time.monotonic() > deadline:
                    break
                if time.monotonic() - last_report > 5:
                    harness.step(f"processed {done}/{total}")
                    last_report = time.monotonic()
                time.sleep(0.2)
            processed_seconds = time.perf_counter() - began

            replay = asyncio.run(fire(url, requests[:1000], args.concurrency))[2]
            stored = count(connection, "SELECT count(*) FROM integrations_omsevent")
            failed = count(connection, "SELECT count(*) FROM integrations_omsevent "
                                       "WHERE status = 'failed'")
            pending = count(connection, "SELECT count(*) FROM integrations_omsevent "
                                        "WHERE status = 'pending'")
            orders = count(connection, "SELECT count(*) FROM timeline_order")
            delivered = count(connection, "SELECT count(*) FROM timeline_order "
                                          "WHERE status = 'delivered'")
            value = connection.execute(
                "SELECT coalesce(sum(lifetime_order_value), 0) FROM timeline_contact "
                "WHERE kind = 'customer'").fetchone()[0]

    accepted = statuses.get(202, 0)
    print()
    print("OMS webhook ingestion")
    print(f"  {harness.machine_line()}; web: uvicorn x{args.web_workers}, "
          f"worker: celery x{args.worker_concurrency}, load generator on the same machine")
    print(f"  events sent:        {total} over {args.concurrency} connections")
    print(f"  accepted:           {accepted} ({accepted / send_seconds:,.0f} events/s); "
          f"statuses {dict(sorted(statuses.items()))}")
    print(f"  accept latency:     {harness.describe_latencies(latencies)}")
    print(f"  fully processed:    {total - pending - failed} in {processed_seconds:.1f} s "
          f"({(total - pending - failed) / processed_seconds:,.0f} events/s end to end)")
    print(f"  replayed 1000:      statuses {dict(sorted(replay.items()))} (200 = duplicate)")
    lost = total - stored
    print(f"  lost: {lost}, failed: {failed}, still pending: {pending}; orders {orders} "
          f"(delivered {delivered}), lifetime value {value} vs expected {expected_value}")
    ok = (lost == 0 and failed == 0 and pending == 0 and orders == total // len(STORY)
          and delivered == orders and Decimal(value) == expected_value
          and replay == {200: min(1000, total)})
    print(f"  consistency: {'OK' if ok else 'FAILED'}")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
