"""/metrics: the desk's figures in Prometheus' format, summed across processes, for scrapers only."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from routing.models import ItemState, Presence, Queue, WorkItem
from supportdesk import metrics
from supportdesk.celery import app, task_lag
from supportdesk.models import OutboxEntry
from supportdesk.redis import get_redis, redis_key
from tests.factories import AgentFactory, ConversationFactory
from tests.scenarios import online_agent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _own_counters(settings):
    """Counters under a key prefix of this test's own, gone afterwards (another test's or another
    worker's requests add to the shared ones)."""
    metrics.metrics_flush()  # what earlier tests counted goes under the shared prefix
    settings.REDIS_KEY_PREFIX = f"sd-test-metrics-{id(settings)}"
    yield
    client = get_redis()
    for key in client.scan_iter(redis_key("metrics", "*")):
        client.delete(key)


def scrape(client, **headers) -> dict[str, dict[tuple, float]]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    figures: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            figures.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return figures


def test_queues_agents_and_outbox_are_read_from_the_database(client):
    queue = Queue.objects.create(key="es-customers", name="Spanish customers", target_wait_seconds=60)
    online_agent(AgentFactory())  # first: an agent coming online pulls the waiting work
    enqueued = timezone.now() - timezone.timedelta(seconds=90)
    for _ in range(3):
        WorkItem.objects.create(queue=queue, state=ItemState.WAITING, channel="chat", language="es",
                                contact_kind="customer", enqueued_at=enqueued, queued_at=enqueued,
                                queue_priority=queue.priority, conversation_id=ConversationFactory().pk)
    OutboxEntry.objects.create(stream="test", consumer="metrics.test", ref_id=1)
    OutboxEntry.objects.create(stream="test", consumer="metrics.test", ref_id=2, parked_at=timezone.now())

    figures = scrape(client)

    labels = (("queue", "es-customers"),)
    assert figures["supportdesk_queue_waiting"][labels] == 3
    assert 90 <= figures["supportdesk_queue_oldest_wait_seconds"][labels] < 600
    assert figures["supportdesk_agents"][(("presence", Presence.ONLINE),)] >= 1
    assert figures["supportdesk_outbox_pending"][(("consumer", "metrics.test"),)] == 1
    assert figures["supportdesk_outbox_parked"][(("consumer", "metrics.test"),)] == 1


def test_requests_are_counted_by_status_class_with_their_latency(client):
    client.get("/healthz")
    client.get("/healthz")
    client.get("/no-such-page")

    figures = scrape(client)

    counts = figures["supportdesk_http_request_duration_seconds_count"]
    assert counts[(("status", "2xx"),)] == 2
    assert counts[(("status", "4xx"),)] == 1
    buckets = figures["supportdesk_http_request_duration_seconds_bucket"]
    assert buckets[(("le", "+Inf"), ("status", "2xx"))] == 2
    assert figures["supportdesk_http_request_duration_seconds_sum"][(("status", "2xx"),)] > 0


def test_counts_from_other_processes_add_up():
    # Another process's flush is the same HINCRBYFLOAT on the same hash.
    get_redis().hincrbyfloat(redis_key("metrics", "celery_task_failures_total"), "task=oms.drain", 2)
    metrics.count("celery_task_failures_total", {"task": "oms.drain"})
    metrics.metrics_flush()

    assert metrics.metrics_read("celery_task_failures_total") == {"task=oms.drain": 3.0}


def test_a_failing_task_is_counted_by_name(client):
    @app.task(name="tests.metrics.failing")
    def failing():
        raise RuntimeError("boom")

    failing.apply()

    figures = scrape(client)
    assert figures["supportdesk_celery_task_failures_total"][(("task", "tests.metrics.failing"),)] == 1


def test_a_tasks_lag_is_from_its_publication_or_its_due_time():
    class Request:
        is_eager = False
        desk_sent_at = 1000.0
        eta = None

    assert task_lag(Request(), now=1002.5) == 2.5
    Request.eta = "1970-01-01T00:16:50+00:00"  # due at 1010: a countdown is not lag
    assert task_lag(Request(), now=1012.0) == 2.0
    Request.is_eager = True
    assert task_lag(Request(), now=1012.0) is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_channel_layer")
def test_open_websockets_are_counted_until_they_close(client):
    from tests.sockets import agent_communicator

    communicator = agent_communicator(AgentFactory())
    sockets = "supportdesk_websocket_connections"

    async def scenario():
        connected, _ = await communicator.connect()
        during = (await sync_to_async(scrape)(client))[sockets][(("socket", "desk"),)]
        await communicator.disconnect()
        after = (await sync_to_async(scrape)(client))[sockets][(("socket", "desk"),)]
        return connected, during, after

    connected, during, after = async_to_sync(scenario)()

    assert connected
    assert (during, after) == (1, 0)


def test_counts_made_while_redis_is_down_are_added_when_it_is_back(settings):
    reachable = settings.REDIS_URL
    metrics.count("celery_task_failures_total", {"task": "kept"})
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    get_redis.cache_clear()
    try:
        assert metrics.metrics_flush() is False
    finally:
        settings.REDIS_URL = reachable
        get_redis.cache_clear()

    assert metrics.metrics_flush() is True
    assert metrics.metrics_read("celery_task_failures_total") == {"task=kept": 1.0}


@pytest.mark.parametrize(("headers", "remote", "token", "status"), [
    ({}, "127.0.0.1", "", 200),  # the default network: this host
    ({}, "10.2.3.4", "", 403),
    ({"HTTP_AUTHORIZATION": "Bearer s3cret-scrape"}, "10.2.3.4", "s3cret-scrape", 200),
    ({"HTTP_AUTHORIZATION": "Bearer wrong"}, "127.0.0.1", "s3cret-scrape", 403),  # a wrong token is wrong anywhere
    ({"HTTP_AUTHORIZATION": "Bearer anything"}, "10.2.3.4", "", 403),  # no token set: none is right
    ({}, "not-an-address", "", 403),
])
def test_only_scrapers_read_metrics(client, settings, headers, remote, token, status):
    settings.METRICS_TOKEN = token
    response = client.get("/metrics", REMOTE_ADDR=remote, **headers)
    assert response.status_code == status
    if status == 403:
        assert response.json()["error"]["code"] == "forbidden"


def test_an_allowed_network_is_configurable(client, settings):
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.2.3.4").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_webhook_posts_are_counted_by_status_and_answer_their_request_id(client):
    from tests.asgi_client import AsgiClient

    asgi = AsgiClient()
    forged = asgi.request("POST", "/integrations/whatsapp/webhook/", data=b"{}",
                          headers={"X-Hub-Signature-256": "sha256=00", "X-Request-ID": "wa-probe-1"})
    wrong_method = asgi.request("PUT", "/integrations/oms/webhook")

    assert (forged.status_code, forged["X-Request-ID"]) == (401, "wa-probe-1")
    assert wrong_method.status_code == 405 and len(wrong_method["X-Request-ID"]) == 32
    figures = scrape(client)
    assert figures["supportdesk_webhook_posts_total"] == {(("status", "401"), ("webhook", "whatsapp")): 1}
    assert figures["supportdesk_http_request_duration_seconds_count"][(("status", "4xx"),)] == 2
