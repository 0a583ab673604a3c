"""The live-chat benchmark's clients (tests/bench/livechat.py): forked processes running
asyncio, the load clients (agents and customers sending and receiving) and the idle ones."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# --- the clients (forked processes, asyncio) ------------------------------------------------------------


@dataclass
class Stage:
    name: str
    rate: float | None  # total messages/s offered; None: flat out
    seconds: float
    measured: bool = True


@dataclass
class StageResult:
    sent: int = 0
    acked: int = 0
    received: int = 0
    lost: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    send_lag_ms: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    client_cpu: float = 0.0
    seconds: float = 0.0

    def add(self, other: StageResult) -> None:
        self.sent += other.sent
        self.acked += other.acked
        self.received += other.received
        self.lost += other.lost
        self.latencies_ms += other.latencies_ms
        self.send_lag_ms += other.send_lag_ms
        self.errors.update(other.errors)
        self.client_cpu += other.client_cpu
        self.seconds = max(self.seconds, other.seconds)


def connect_kwargs(port: int, args: argparse.Namespace) -> dict[str, Any]:
    return {"origin": f"http://127.0.0.1:{port}", "ping_interval": None, "open_timeout": 60, "close_timeout": 2,
            "compression": "deflate" if args.deflate else None, "max_queue": None}


def client_main(role: str, shard: Any, args: argparse.Namespace, ports: list[int], barrier: Any,
                results: Any) -> None:
    """A forked client process: run one role's coroutine under uvloop; its result goes on `results`."""
    import uvloop

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us; Ctrl-C reaches it too
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        result = uvloop.run((load_client if role == "load" else idle_client)(shard, args, ports, barrier))
    except BaseException as exc:  # reported, so the parent never waits for a report that will not come
        print(f"The {role} client failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        barrier.abort()
        results.put(("error", f"{type(exc).__name__}: {exc}"[:500]))
        raise SystemExit(1) from None
    results.put(("ok", result))


async def in_executor(function: Any, *call_args: Any) -> Any:
    """A blocking call (the barrier) off the event loop, so sockets keep being read meanwhile."""
    return await asyncio.get_running_loop().run_in_executor(None, function, *call_args)


async def load_client(shard: dict[str, Any], args: argparse.Namespace, ports: list[int], barrier: Any
                      ) -> dict[str, StageResult]:
    from django.conf import settings
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    stages: list[Stage] = shard["stages"]
    tag = shard["tag"]
    sent_at: dict[str, tuple[int, float]] = {}  # client_id -> (stage, monotonic send time)
    results = [StageResult() for _ in stages]
    current = 0
    ack_waiters: dict[int, asyncio.Future] = {}

    async def agent_reader(ws: Any) -> None:
        with contextlib.suppress(ConnectionClosed):
            await agent_frames(ws)
        results[current].errors["agent: socket closed by the server"] += 1

    async def agent_frames(ws: Any) -> None:
        async for raw in ws:
            frame = json.loads(raw)
            if frame.get("type") == "chat.message" and frame.get("direction") == "in":
                entry = sent_at.pop(frame.get("client_id"), None)
                if entry is not None:
                    results[entry[0]].received += 1
                    results[entry[0]].latencies_ms.append((time.monotonic() - entry[1]) * 1000)
            elif frame.get("type") == "error":
                results[current].errors[f"agent: {frame.get('code')}"] += 1

    async def customer_reader(index: int, ws: Any) -> None:
        with contextlib.suppress(ConnectionClosed):
            await customer_frames(index, ws)
        results[current].errors["customer: socket closed by the server"] += 1

    async def customer_frames(index: int, ws: Any) -> None:
        async for raw in ws:
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "ack":
                results[current].acked += 1
            elif kind == "error":
                results[current].errors[f"customer: {frame.get('code')}"] += 1
            else:
                continue
            waiter = ack_waiters.pop(index, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    cookie = f"{settings.SESSION_COOKIE_NAME}="
    agent_sockets, customer_sockets, readers = [], [], []
    limit = asyncio.Semaphore(50)

    async def open_socket(url: str, port: int, **extra: Any) -> Any:
        async with limit:
            return await connect(url, **connect_kwargs(port, args), **extra)

    agent_sockets = await asyncio.gather(*[
        open_socket(f"ws://127.0.0.1:{ports[n % len(ports)]}/ws/agent/", ports[n % len(ports)],
                    additional_headers={"Cookie": cookie + key}) for n, (_, key) in enumerate(shard["agents"])])
    customer_sockets = await asyncio.gather(*[
        open_socket(f"ws://127.0.0.1:{ports[n % len(ports)]}/ws/chat/?token={token}", ports[n % len(ports)])
        for n, token in enumerate(shard["customers"])])
    for ws in customer_sockets:  # each widget says it is ready once it follows its chat
        ready = json.loads(await asyncio.wait_for(ws.recv(), 60))
        if ready.get("type") != "ready" or not ready.get("conversation"):
            raise RuntimeError(f"A customer socket did not get its chat: {ready}")
    readers = [asyncio.create_task(agent_reader(ws)) for ws in agent_sockets]
    readers += [asyncio.create_task(customer_reader(n, ws)) for n, ws in enumerate(customer_sockets)]
    await in_executor(barrier.wait, 120)  # everyone connected

    counter = itertools.count()

    def frame(stage_index: int) -> tuple[str, str]:
        client_id = f"{tag}.{stage_index}.{next(counter)}"
        return client_id, json.dumps({"type": "message", "body": f"Hello, where is my order? ({client_id})",
                                      "client_id": client_id})

    async def send(ws: Any, client_id: str, text: str, stage_index: int) -> bool:
        """A socket the server closed counts as an error (and its message as lost), not as the end of the run."""
        try:
            await ws.send(text)
        except ConnectionClosed:
            results[stage_index].errors["customer: send on a closed socket"] += 1
            return False
        return True

    async def paced(stage_index: int, rate: float, seconds: float) -> None:
        """Sends at `rate` per second, round-robin over the customers; every due send at each wake."""
        interval, n, number = 1.0 / rate, len(customer_sockets), 0
        began = time.monotonic()
        while True:
            scheduled = began + number * interval
            if scheduled >= began + seconds:
                break
            now = time.monotonic()
            if scheduled > now:
                await asyncio.sleep(scheduled - now)
                now = time.monotonic()
            results[stage_index].send_lag_ms.append((now - scheduled) * 1000)
            client_id, text = frame(stage_index)
            sent_at[client_id] = (stage_index, time.monotonic())
            results[stage_index].sent += 1
            number += 1
            await send(customer_sockets[(number - 1) % n], client_id, text, stage_index)

    async def flat_out(stage_index: int, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        ends = time.monotonic() + seconds

        async def customer(index: int, ws: Any) -> None:
            while time.monotonic() < ends:
                waiter = ack_waiters[index] = loop.create_future()
                client_id, text = frame(stage_index)
                sent_at[client_id] = (stage_index, time.monotonic())
                results[stage_index].sent += 1
                if not await send(ws, client_id, text, stage_index):
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter, 30)

        await asyncio.gather(*[customer(n, ws) for n, ws in enumerate(customer_sockets)])

    for index, stage in enumerate(stages):
        await in_executor(barrier.wait, 120)
        current = index
        cpu, began = time.process_time(), time.monotonic()
        if stage.rate is None:
            await flat_out(index, stage.seconds)
        else:
            await paced(index, stage.rate / shard["clients"], stage.seconds)
        results[index].seconds = time.monotonic() - began
        # Drain: what is still on its way gets up to 10 s more; whatever never arrives is lost.
        deadline = time.monotonic() + 10
        while any(entry[0] == index for entry in sent_at.values()) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for client_id in [cid for cid, entry in sent_at.items() if entry[0] == index]:
            del sent_at[client_id]
            results[index].lost += 1
        results[index].client_cpu = time.process_time() - cpu
        await in_executor(barrier.wait, 120)
    for task in readers:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in [*agent_sockets, *customer_sockets]), return_exceptions=True)
    return {stage.name: result for stage, result in zip(stages, results, strict=True)}


async def idle_client(shard: dict[str, Any], args: argparse.Namespace, ports: list[int], barrier: Any
                      ) -> dict[str, Any]:
    """Opens its share of idle widgets in two halves (a barrier after each, for the RSS readings),
    then has every one answer a frame and a sample receive a push, and reports what it saw."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    sockets: dict[int, Any] = {}  # conversation id -> socket
    answered: set[int] = set()
    pushed: set[int] = set()
    failures: Counter = Counter()
    limit = asyncio.Semaphore(args.connect_concurrency)

    async def reader(conversation_id: int, ws: Any) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                frame = json.loads(raw)
                if frame.get("type") == "error" and frame.get("code") == "unknown_type":
                    answered.add(conversation_id)
                elif frame.get("type") == "chat.message" and frame.get("client_id") == "bench-push":
                    pushed.add(conversation_id)

    async def open_one(number: int, conversation_id: int, token: str) -> None:
        port = ports[number % len(ports)]
        async with limit:
            try:
                ws = await connect(f"ws://127.0.0.1:{port}/ws/chat/?token={token}", **connect_kwargs(port, args))
                ready = json.loads(await asyncio.wait_for(ws.recv(), 60))
            except Exception as exc:
                failures[type(exc).__name__] += 1
                return
        if ready.get("type") != "ready" or (ready.get("conversation") or {}).get("id") != conversation_id:
            failures[f"not ready: {str(ready)[:80]}"] += 1
            return
        sockets[conversation_id] = ws
        tasks.append(asyncio.create_task(reader(conversation_id, ws)))

    tasks: list[asyncio.Task] = []
    half = len(shard["idle"]) // 2
    opened_at = []
    for part in (shard["idle"][:half], shard["idle"][half:]):
        began = time.monotonic()
        await asyncio.gather(*[open_one(n, cid, token) for n, (cid, token) in enumerate(part)])
        opened_at.append(time.monotonic() - began)
        await in_executor(barrier.wait, 600)  # the parent reads the servers' RSS
    for ws in sockets.values():
        try:
            await ws.send('{"type":"ping"}')
        except ConnectionClosed:  # counted below: not still open, not answered
            pass
    await in_executor(barrier.wait, 600)  # the parent pushes to the sample's groups meanwhile
    deadline = time.monotonic() + 30
    sample = set(shard["sample"])
    while (len(answered) < len(sockets) or not sample <= pushed) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    still_open = sum(1 for ws in sockets.values() if ws.state.name == "OPEN")
    result = {"opened": len(sockets), "still_open": still_open, "answered": len(answered),
              "sample": len(sample), "pushed": len(sample & pushed), "failures": failures,
              "open_seconds": opened_at}
    await in_executor(barrier.wait, 600)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in sockets.values()), return_exceptions=True)
    return result


@contextlib.contextmanager
def clients(role: str, shards: Sequence[Any], args: argparse.Namespace, ports: list[int]):
    """Forked client processes (the Django settings are loaded; no database connection crosses)."""
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(shards) + 1)
    results = context.Queue()
    started = [context.Process(target=client_main, args=(role, shard, args, ports, barrier, results), daemon=True)
               for shard in shards]
    for process in started:
        process.start()

    def collect() -> list[Any]:
        outcomes = []
        for _ in started:
            status, outcome = results.get(timeout=600)
            if status != "ok":
                raise SystemExit(f"A {role} client failed: {outcome}")
            outcomes.append(outcome)
        return outcomes

    try:
        yield barrier, collect, started
    finally:
        for process in started:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
            if process.is_alive():
                process.kill()


def barrier_wait(barrier: Any, timeout: float) -> None:
    try:
        barrier.wait(timeout)
    except threading.BrokenBarrierError:
        raise SystemExit("A client process failed or stalled (see above); stopping.") from None
