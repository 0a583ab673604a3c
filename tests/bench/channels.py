"""Channels: inbound email over SMTP and WhatsApp webhooks, end to end, and the SMTP server's
memory while large attachments arrive.

With the real servers on a scratch database (`manage.py smtp_inbound`, uvicorn, a Celery
worker), three measures:

- (A) emails with 50 KB HTML bodies sent over SMTP by four clients at once (a third of them
  replies threaded on an earlier one), from the first send until the worker has parsed,
  threaded and stored the last as a message (target: 200 a second or more);
- (B) signed WhatsApp webhook posts over HTTP, 64 at a time, until the last message is
  stored (target: 1,000 a second or more);
- (C) six emails with a 20 MB attachment to the SMTP server: its resident memory after
  each (target: flat, none from the third on above the second by more than 10 %).

    python -m tests.bench.channels [--emails 2000] [--posts 5000] [--only emails|whatsapp|memory ...]
        [--new-senders]

`--only` (repeatable) runs only those measures (A is "emails", B "whatsapp", C "memory"); by
default all three run. B's posts come from the same numbers every run (so on a database that ran
before, from contacts the desk knows, into their open conversations: each message is one more
of a conversation); with `--new-senders` from numbers of this run's own (each message a new
contact, a new conversation and its routing, as each run's emails come from new addresses).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import random
import smtplib
import threading
import time
import uuid
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import aiohttp
import uvloop

from tests.bench import harness

DOMAIN = "bench.supportdesk.local"
APP_SECRET = "bench-only-whatsapp-app-secret"
SENDERS = 400
BIG_EMAILS = 6


def html_body(rng: random.Random, size: int = 50_000) -> str:
    words = ["pedido", "order", "late", "tarde", "courier", "repartidor", "refund", "reembolso", "hola", "please"]
    paragraphs, length = [], 0
    while length < size:
        text = " ".join(rng.choice(words) for _ in range(60))
        paragraphs.append(f"<p style='font-family: Arial'>{text}</p>"
                          f"<table><tr><td>{rng.random()}</td></tr></table>")
        length += len(paragraphs[-1])
    return "<html><body>\n" + "\n".join(paragraphs) + "\n</body></html>"


def build_emails(count: int, seed: int = 11) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:8]
    sent: dict[int, str] = {}
    emails = []
    for number in range(count):
        sender = rng.randrange(SENDERS)
        message = EmailMessage()
        message["From"] = f"Customer {sender} <c{sender}.{run}@example.com>"
        message["To"] = f"support@{DOMAIN}"
        message["Message-ID"] = f"<{run}.{number}@example.com>"
        if sender in sent and rng.random() < 0.5:
            message["Subject"] = "Re: my order"
            message["In-Reply-To"] = message["References"] = sent[sender]
        else:
            message["Subject"] = f"my order {number}"
        sent[sender] = message["Message-ID"]
        html = html_body(rng)
        message.set_content("Hello, my order is late.\n\n> earlier text\n")
        message.add_alternative(html, subtype="html")
        emails.append((message["From"].addresses[0].addr_spec, message.as_bytes(policy=SMTP)))
    return emails


def smtp_send(port: int, emails: list[tuple[str, bytes]], clients: int) -> float:
    """Send every email over SMTP, `clients` connections at once; the seconds it took."""
    chunks = [emails[index::clients] for index in range(clients)]
    errors: list[BaseException] = []

    def client(chunk: list[tuple[str, bytes]]) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=120) as connection:
                for sender, raw in chunk:
                    connection.sendmail(sender, [f"support@{DOMAIN}"], raw)
        except BaseException as error:  # reported below
            errors.append(error)

    began = time.monotonic()
    threads = [threading.Thread(target=client, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"An SMTP client failed: {errors[0]!r}")
    return time.monotonic() - began


def signed(payload: dict) -> tuple[bytes, str]:
    body = json.dumps(payload).encode()
    return body, "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()


def build_posts(count: int, *, new_senders: bool = False, seed: int = 5) -> list[tuple[bytes, str]]:
    from integrations.whatsapp.fake_server import inbound_payload

    run = uuid.uuid4().hex[:8]
    rng = random.Random(run if new_senders else seed)

    def sender() -> str:  # Spanish mobiles: the run's own among 10^8, else the same 10^6 every run
        return f"346{rng.randrange(10**8):08d}" if new_senders else f"3460{rng.randrange(10**6):07d}"

    return [signed(inbound_payload(sender=sender(), name="Bench",
                                   text=f"Hola, mi pedido {number} llega tarde",
                                   wamid=f"wamid.bench.{run}.{number}")) for number in range(count)]


async def fire(url: str, posts: list[tuple[bytes, str]], concurrency: int) -> tuple[float, dict[int, int]]:
    statuses: dict[int, int] = {}
    queue: asyncio.Queue = asyncio.Queue()
    for post in posts:
        queue.put_nowait(post)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def sender() -> None:
            while not queue.empty():
                body, signature = queue.get_nowait()
                async with session.post(url, data=body, headers={
                        "Content-Type": "application/json", "X-Hub-Signature-256": signature}) as response:
                    await response.read()
                    statuses[response.status] = statuses.get(response.status, 0) + 1

        began = time.monotonic()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        return time.monotonic() - began, statuses


def wait_for(connection, sql: str, expected: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    last_report = time.monotonic()
    while True:
        done = connection.execute(sql).fetchone()[0]
        if done >= expected:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: {done} of {expected} after {timeout:.0f} s.")
        if time.monotonic() - last_report > 10:
            harness.step(f"{what}: {done:,} of {expected:,}")
            last_report = time.monotonic()
        time.sleep(0.05)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def children_rss_kib(root_pid: int) -> int:
    """The resident memory of a process and its children (manage.py may run under a wrapper)."""
    total, pids = 0, [root_pid]
    while pids:
        pid = pids.pop()
        try:
            total += rss_kib(pid)
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        pids.extend(int(child) for child in children)
    return total


def tree_cpu_seconds(root_pid: int) -> float:
    """CPU seconds of a process and its children (a Celery worker's pool, a wrapper's child)."""
    total, pids = 0.0, [root_pid]
    while pids:
        pid = pids.pop()
        total += harness.process_cpu_seconds(pid)
        try:
            pids.extend(int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
        except OSError:
            continue
    return total


def big_email(number: int) -> tuple[str, bytes]:
    message = EmailMessage()
    message["From"], message["To"] = "big@example.com", f"support@{DOMAIN}"
    message["Subject"] = "a video of the damage"
    message["Message-ID"] = f"<big.{uuid.uuid4().hex}.{number}@example.com>"
    message.set_content("See the attached video.")
    message.add_attachment(random.randbytes(20 * 1024 * 1024), maintype="video", subtype="mp4",
                           filename="damage.mp4")
    return "big@example.com", message.as_bytes(policy=SMTP)


MEASURES = ("emails", "whatsapp", "memory")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--posts", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--only", action="append", choices=MEASURES,
                        help="run only this measure (repeatable); all three by default")
    parser.add_argument("--new-senders", action="store_true",
                        help="B's posts from numbers of this run's own (else the same numbers every run)")
    harness.add_output_arguments(parser)
    args = parser.parse_args()
    only = set(args.only or MEASURES)

    harness.yardsticks()
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    env = harness.bench_env(database="bench_channels", EMAIL_INBOUND_DOMAIN=DOMAIN, WHATSAPP_APP_SECRET=APP_SECRET,
                            WHATSAPP_VERIFY_TOKEN="bench-only-verify-token", CELERY_TASK_DEFAULT_QUEUE=queue,
                            EMAIL_INBOUND_MAX_BYTES=str(30 * 1024 * 1024))
    harness.prepare_database(env)
    smtp_port, web_port = harness.free_port(), harness.free_port()
    smtp = [str(harness.VENV_BIN / "python"), "manage.py", "smtp_inbound", "--port", str(smtp_port)]
    web = [str(harness.VENV_BIN / "uvicorn"), "supportdesk.asgi:application", "--host", "127.0.0.1", "--port",
           str(web_port), "--workers", "2", "--no-access-log", "--log-level", "warning"]
    worker = [str(harness.VENV_BIN / "celery"), "-A", "supportdesk", "worker", "--loglevel", "WARNING",
              "--concurrency", str(args.worker_concurrency), "-Q", f"{queue},{queue}.ticks"]
    smtp_needed = bool(only & {"emails", "memory"})
    servers = [smtp, web, worker] if smtp_needed else [web, worker]
    emails = build_emails(args.emails) if "emails" in only else []
    posts = build_posts(args.posts, new_senders=args.new_senders) if "whatsapp" in only else []
    harness.step(f"built {len(emails):,} emails with 50 KB HTML bodies and {len(posts):,} WhatsApp posts")

    rows = [["measure", "figure", "target", "met"]]
    notes: list[str] = []
    consistent, met = True, True
    with harness.processes(servers, env=env) as started, harness.connect("bench_channels") as connection:
        if smtp_needed:
            harness.wait_for_port(smtp_port)
        harness.wait_for_port(web_port)
        time.sleep(3)  # every process booted
        for table in ("integrations_inboundemail", "integrations_whatsappdelivery", "conversations_message"):
            connection.execute(f"TRUNCATE {table} CASCADE")  # noqa: S608 (constant names)

        if "emails" in only:
            harness.step(f"A: {args.emails:,} emails over SMTP, 4 clients")
            meters = {"SMTP server": started[servers.index(smtp)], "worker": started[servers.index(worker)]}
            cpu_before = {name: tree_cpu_seconds(pid) for name, pid in meters.items()}
            busy_before = harness.machine_busy_seconds()
            began = time.monotonic()
            sent_seconds = smtp_send(smtp_port, emails, clients=4)
            wait_for(connection, "SELECT count(*) FROM integrations_inboundemail WHERE status <> 'pending'",
                     args.emails, args.timeout, "emails processed")
            email_rate = args.emails / (time.monotonic() - began)
            cpu_ms = {name: (tree_cpu_seconds(pid) - cpu_before[name]) * 1000 / args.emails
                      for name, pid in meters.items()}
            cpu_ms["machine"] = (harness.machine_busy_seconds() - busy_before) * 1000 / args.emails
            email_messages = connection.execute(
                "SELECT count(*) FROM conversations_message WHERE channel_metadata ? 'email'").fetchone()[0]
            email_threads = connection.execute(
                "SELECT count(DISTINCT conversation_id) FROM conversations_message "
                "WHERE channel_metadata ? 'email'").fetchone()[0]
            rows.append(["A. emails (50 KB HTML) sent, parsed, threaded, stored",
                         harness.rate("emails end to end", email_rate, "emails/s"), ">= 200/s",
                         "yes" if email_rate >= 200 else "NO"])
            notes.append(f"A: accepted by the SMTP server {args.emails / sent_seconds:,.0f} emails/s; "
                         f"{email_messages:,} messages in {email_threads:,} conversations")
            notes.append(f"A: CPU per email: SMTP server {cpu_ms['SMTP server']:.2f} ms, worker "
                         f"{cpu_ms['worker']:.2f} ms, the whole machine {cpu_ms['machine']:.2f} ms (PostgreSQL, "
                         "Redis and the clients too)")
            consistent &= email_messages == args.emails
            met &= email_rate >= 200

        if "whatsapp" in only:
            harness.step(f"B: {args.posts:,} WhatsApp webhook posts, {args.concurrency} at a time")
            began = time.monotonic()
            post_seconds, statuses = uvloop.run(fire(f"http://127.0.0.1:{web_port}/integrations/whatsapp/webhook/",
                                                     posts, args.concurrency))
            wait_for(connection, "SELECT count(*) FROM conversations_message WHERE channel_metadata ? 'whatsapp'",
                     args.posts, args.timeout, "WhatsApp messages stored")
            post_rate = args.posts / (time.monotonic() - began)
            accepted_rate = args.posts / post_seconds
            rows.append(["B. WhatsApp posts accepted and stored as messages",
                         harness.rate("whatsapp end to end", post_rate, "posts/s"), ">= 1,000/s",
                         "yes" if post_rate >= 1000 else "NO"])
            accepted = harness.rate("whatsapp accepted", accepted_rate, "posts/s")
            notes.append(f"B: accepted by the webhook {accepted}, answers {statuses}")
            consistent &= statuses == {200: args.posts}
            met &= post_rate >= 1000

        if "memory" in only:
            harness.step(f"C: {BIG_EMAILS} emails with a 20 MB attachment to the SMTP server")
            server_pid = _pid_listening(smtp_port)
            before = children_rss_kib(server_pid)
            after = []
            for number in range(BIG_EMAILS):
                smtp_send(smtp_port, [big_email(number)], clients=1)
                time.sleep(1)
                after.append(children_rss_kib(server_pid))
            wait_for(connection, "SELECT count(*) FROM integrations_inboundemail WHERE size > 20000000 "
                     "AND status <> 'pending'", BIG_EMAILS, args.timeout, "large emails processed")
            # Flat: receiving more of them does not take more (the first two set up the buffers and arenas).
            flat = max(after[2:]) <= after[1] * 1.10
            rows.append(["C. SMTP server memory, 20 MB attachments",
                         f"{before / 1024:.0f} MB before; after each: " + ", ".join(f"{kib / 1024:.0f} MB"
                                                                                    for kib in after),
                         "flat (3rd on <= 2nd + 10 %)", "yes" if flat else "NO"])
            met &= flat

        if only & {"emails", "memory"}:
            stored = connection.execute("SELECT count(*) FROM integrations_inboundemail").fetchone()[0]
            lost = (args.emails if "emails" in only else 0) + (BIG_EMAILS if "memory" in only else 0) - stored
            notes.append(f"lost emails: {lost}")
            consistent &= lost == 0

    print()
    print("Channels")
    harness.yardstick_header()
    print(f"  {harness.machine_line()}; {'smtp_inbound, ' if smtp_needed else ''}uvicorn x2, worker: "
          f"celery x{args.worker_concurrency}, PostgreSQL, Redis and the load generator on the same machine")
    harness.table(rows)
    for note in notes:
        print(f"  {note}")
    print(f"  consistency: {'OK' if consistent else 'FAILED'}")
    harness.json_write(args, benchmark="channels", consistent=consistent)
    if not (consistent and met):
        raise SystemExit(1)


def _pid_listening(port: int) -> int:
    """The process listening on a local TCP port (from /proc/net/tcp and the fds of our children)."""
    import os

    hex_port = f"{port:04X}"
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(":" + hex_port) and fields[3] == "0A":
            inodes.add(fields[9])
    for pid in (int(name) for name in os.listdir("/proc") if name.isdigit()):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return pid
        except OSError:
            continue
    raise SystemExit(f"No process listens on port {port}.")


if __name__ == "__main__":
    main()
