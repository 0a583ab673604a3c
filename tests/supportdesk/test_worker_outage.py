"""Faults the desk recovers from without a person: a Redis outage under load leaves the Celery
worker up, working on, and losing none of the tasks it held; a process that dies is started again by
`make run`'s process manager (docker-compose's restart policies: test_deployment.py).

Real processes throughout: a private redis-server (killed and started again; nobody else's
server is touched), a real worker process consuming from it, and the tasks sent the way the
desk sends them, half of them with a countdown as the webhook's drain requests are.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from kombu.exceptions import OperationalError

from supportdesk.celery import app as celery_app
from tests.supportdesk.worker_probe import PROBE_TASK

ROOT = Path(__file__).resolve().parents[2]
# Generous: these wait for conditions, they measure nothing. The machine may be busy.
DEADLINE_SECONDS = 180
OUTAGE_SECONDS = 3
OUTAGES = (signal.SIGTERM, signal.SIGKILL, signal.SIGTERM)
# Messages the worker held when its connection died come back after this (the desk's default
# is minutes; the drill does not wait that long).
VISIBILITY_TIMEOUT_SECONDS = 10


def _redis_server_binary() -> str:
    path = shutil.which("redis-server")
    if path is None:
        message = "redis-server is not installed; the worker drills start a private one."
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return f"({path.name} is empty)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class PrivateRedis:
    """A redis-server of the test's own, on a free port, that the test may kill.

    The append-only file is synced on every write, so a task the server accepted (answered)
    survives a kill -9, as it would on a production Redis with persistence."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.port = _free_port()
        self.log = directory / "redis.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5, socket_connect_timeout=5)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [_redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.directory),
             "--logfile", str(self.log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, "the private Redis to answer", log=self.log)

    def stop(self, how: signal.Signals = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(how)
            self.process.wait()

    def unacked_tokens(self) -> set[str]:
        """The probe tokens of the messages a worker took and has not acknowledged yet."""
        client = self.client()
        tokens = set()
        for key in client.scan_iter(match="*unacked"):
            for noted in client.hvals(key):
                raw_message = json.loads(noted)[0]
                args = json.loads(base64.b64decode(raw_message["body"]))[0]
                tokens.add(args[0])
        return tokens

    def _answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.ConnectionError:
            return False


def wait_for(condition: Callable[[], bool], what: str, *, log: Path,
             alive: subprocess.Popen | None = None, explain: Callable[[], str] = str) -> None:
    """Wait until `condition` holds; fail at once if `alive` exits, or at the deadline."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if alive is not None and alive.poll() is not None:
            pytest.fail(f"Process exited ({alive.returncode}) while waiting for {what}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            pytest.fail(f"Gave up waiting for {what}: {explain()}\n{_tail(log)}")
        time.sleep(0.1)


def worker_environment(*, broker_url: str, queue: str, probe_log: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DEBUG": "true",
        "CELERY_BROKER_URL": broker_url,
        "REDIS_URL": broker_url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT_SECONDS),
        "WORKER_PROBE_LOG": str(probe_log),
    }


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def recorded(probe_log: Path) -> set[str]:
    if not probe_log.exists():
        return set()
    return set(probe_log.read_text().split())


class Load(threading.Thread):
    """Sends probe tasks to the broker until stopped, as the desk does: every other one with a
    countdown (the worker holds it unacknowledged until its time), the rest late-acked and
    busy for a moment. Keeps the tokens the broker accepted."""

    def __init__(self, *, broker_url: str, queue: str) -> None:
        super().__init__(daemon=True)
        self.broker_url = broker_url
        self.queue = queue
        self.accepted: list[str] = []
        self.refused_tokens: list[str] = []
        self._stop_sending = threading.Event()

    def run(self) -> None:
        with celery_app.connection_for_write(self.broker_url) as connection:
            number = 0
            while not self._stop_sending.is_set():
                number += 1
                token = f"task-{number}"
                with_countdown = number % 2 == 1
                try:
                    celery_app.send_task(
                        PROBE_TASK, args=(token, 0.0 if with_countdown else 0.02), queue=self.queue,
                        countdown=0.5 if with_countdown else None, connection=connection,
                    )
                except OperationalError:
                    # Broker down: refused, so the sender knows (the desk logs it, and its
                    # sweeps redo the work); only accepted tasks must run.
                    self.refused_tokens.append(token)
                else:
                    self.accepted.append(token)
                self._stop_sending.wait(0.02)

    def stop(self) -> None:
        self._stop_sending.set()
        self.join(timeout=60)


def test_worker_rides_out_a_redis_restart_under_load(tmp_path: Path) -> None:
    broker = PrivateRedis(tmp_path / "redis")
    broker.start()
    queue = f"outage-{uuid.uuid4().hex[:8]}"
    probe_log = tmp_path / "probe.log"
    worker_log = tmp_path / "worker.log"
    with worker_log.open("w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "supportdesk", "worker", "-I", "tests.supportdesk.worker_probe",
             "-Q", queue, "--concurrency", "2", "--loglevel", "INFO", "--hostname", f"{queue}@%h"],
            cwd=ROOT, env=worker_environment(broker_url=broker.url, queue=queue, probe_log=probe_log),
            stdout=log, stderr=subprocess.STDOUT,
        )
    load = Load(broker_url=broker.url, queue=queue)
    try:
        with celery_app.connection_for_write(broker.url) as connection:
            celery_app.send_task(PROBE_TASK, args=("ready",), queue=queue, connection=connection)
        wait_for(lambda: "ready" in recorded(probe_log), "the worker to start", log=worker_log, alive=worker)
        load.start()
        held_at_outages: set[str] = set()
        # Which of the worker's sockets notices a dead server first is down to chance, and the
        # worker died only when it was not the one waiting for tasks: so, several outages, the
        # way Redis stops when it is restarted (SIGTERM) and when it crashes (SIGKILL).
        for how in OUTAGES:
            # Given a worker at work, holding messages it has not acknowledged yet,
            done_before = len(recorded(probe_log))
            held: set[str] = set()

            def working_and_holding(done: int = done_before, held: set[str] = held) -> bool:
                held |= broker.unacked_tokens()
                return len(recorded(probe_log)) >= done + 20 and bool(held)

            wait_for(working_and_holding, "the worker to work and hold unacknowledged tasks",
                     log=worker_log, alive=worker)
            held_at_outages |= held | broker.unacked_tokens()

            # when Redis dies and comes back a few seconds later,
            broker.stop(how)
            time.sleep(OUTAGE_SECONDS)
            broker.start()
            accepted_before_restart = len(load.accepted)
            wait_for(lambda mark=accepted_before_restart: len(load.accepted) >= mark + 30,
                     "the broker to accept tasks again", log=worker_log, alive=worker)
        load.stop()

        # then the worker is still up and works on: every task sent after the outages runs, and
        # so does every task it held unacknowledged when Redis died (back from Redis's unacked
        # index after the visibility timeout). Not asserted: a task BRPOP hands out in the very
        # instant Redis dies can die with the reply (kombu's Redis transport pops, then notes);
        # the desk's beat sweeps redo such work (stored OMS events, unrouted conversations).
        expected = set(load.accepted[accepted_before_restart:]) | held_at_outages
        wait_for(lambda: expected <= recorded(probe_log), "the tasks to run", log=worker_log, alive=worker,
                 explain=lambda: f"never ran {sorted(expected - recorded(probe_log))}")
        assert worker.poll() is None, _tail(worker_log)
        assert load.refused_tokens, "the drill never saw the broker down"
        assert "Unrecoverable error" not in worker_log.read_text()
    finally:
        load.stop()
        stop(worker)
        broker.stop()


def test_the_process_manager_starts_a_killed_worker_again(tmp_path: Path, transactional_db: None) -> None:
    """`make run`'s own configuration: killing the worker leaves web and beat up and the worker
    comes back; then SIGINT (Ctrl-C) stops all three."""
    from django.conf import settings

    broker = PrivateRedis(tmp_path / "redis")
    broker.start()
    bin_dir = Path(sys.executable).parent
    config = ROOT / "supportdesk" / "supervisord.conf"
    database = settings.DATABASES["default"]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    manager_log = tmp_path / "supervisord.log"
    environment = {
        **worker_environment(broker_url=broker.url, queue=f"manager-{uuid.uuid4().hex[:8]}",
                             probe_log=tmp_path / "probe.log"),
        # The test database, which this test empties afterwards: beat's sweeps run for real.
        "DATABASE_URL": f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST'] or 'localhost'}:"
                        f"{database['PORT'] or 5432}/{database['NAME']}",
        "RUN_BIN": str(bin_dir), "RUN_DIR": str(run_dir),
        "WEB_HOST": "127.0.0.1", "WEB_PORT": str(_free_port()),
        # The local SMTP sink and the fake OMS run too, on ports of this test's own.
        "SMTP_SINK_PORT": str(_free_port()), "FAKE_OMS_PORT": str(_free_port()),
        "EMAIL_INBOUND_SMTP_PORT": str(_free_port()), "FAKE_WHATSAPP_PORT": str(_free_port()),
        "FAKE_VOICE_PORT": str(_free_port()),
    }

    def pids() -> dict[str, int]:
        """The running programs' process ids (a program that is not running is left out)."""
        result = subprocess.run([str(bin_dir / "supervisorctl"), "-c", str(config), "status"],
                                env=environment, capture_output=True, text=True, timeout=60)
        running = {}
        for line in result.stdout.splitlines():
            fields = line.split()
            if len(fields) >= 4 and fields[1] == "RUNNING" and fields[2] == "pid":
                running[fields[0]] = int(fields[3].rstrip(","))
        return running

    with manager_log.open("w") as log:
        manager = subprocess.Popen([str(bin_dir / "supervisord"), "-c", str(config)], cwd=ROOT,
                                   env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: set(pids()) == {"web", "worker", "beat", "smtp_sink", "smtp_inbound", "fake_oms",
                                         "fake_whatsapp", "fake_voice"},
                 "web, worker, beat, the SMTP servers and the fake OMS, WhatsApp and voice to run",
                 log=manager_log, alive=manager)
        before = pids()

        os.kill(before["worker"], signal.SIGKILL)

        wait_for(lambda: pids().get("worker", before["worker"]) != before["worker"],
                 "the worker to be started again", log=manager_log, alive=manager)
        after = pids()
        others = ("web", "beat", "smtp_sink", "smtp_inbound", "fake_oms", "fake_whatsapp", "fake_voice")
        assert {name: after[name] for name in others} == {name: before[name] for name in others}
        assert "exited: worker (terminated by SIGKILL; not expected)" in manager_log.read_text()

        manager.send_signal(signal.SIGINT)
        manager.wait(timeout=DEADLINE_SECONDS)
        assert manager.returncode == 0, _tail(manager_log)
        for pid in after.values():
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        stop(manager)
        broker.stop()

