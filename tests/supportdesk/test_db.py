"""rows_update: many rows, many column types, one statement; the event loop's pool."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from supportdesk.db import (
    connection_check,
    libpq_params,
    loop_connection,
    pg_int_array,
    pg_text_array,
    rows_update,
)
from tests.factories import ContactFactory, OrderFactory
from timeline.models import Contact, Order

pytestmark = pytest.mark.django_db


@given(texts=st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"))),
       numbers=st.lists(st.integers(min_value=-2**63, max_value=2**63 - 1)))
@example(texts=["", '"', "\\", "NULL", "{a,b}", " x ", "ñ 한"], numbers=[0, -1])
@hypothesis_settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
def test_array_literals_read_back_as_the_values_they_were_made_of(texts, numbers):
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::text[], %s::bigint[]", [pg_text_array(texts), pg_int_array(numbers)])
        assert cursor.fetchone() == (texts, numbers)


def test_every_row_gets_its_own_values_of_every_type():
    first, second = ContactFactory(tags=["a"]), ContactFactory(attributes={"x": 1})
    untouched = ContactFactory(name="Same")
    first.name, first.tags, first.credit_balance = "Ana O'Neil", ["vip", "late"], Decimal("12.50")
    second.attributes, second.tags, second.email = {"nested": {"ok": True}}, [], "new@example.com"

    with CaptureQueriesContext(connection) as queries:
        updated = rows_update([first, second], ["name", "tags", "credit_balance", "attributes",
                                                "email"])

    assert (updated, len(queries)) == (2, 1)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.name, first.tags, first.credit_balance) == ("Ana O'Neil", ["vip", "late"],
                                                              Decimal("12.50"))
    assert (second.attributes, second.tags, second.email) == (
        {"nested": {"ok": True}}, [], "new@example.com")
    assert Contact.objects.get(pk=untouched.pk).name == "Same"


def test_relations_and_times_are_written_by_id():
    order = OrderFactory()
    other_customer = ContactFactory()
    delivered = timezone.now()
    order.customer, order.courier, order.delivered_at = other_customer, None, delivered

    rows_update([order], ["customer", "courier", "delivered_at"])

    stored = Order.objects.get(pk=order.pk)
    assert (stored.customer_id, stored.courier_id, stored.delivered_at) == (
        other_customer.pk, None, delivered)


def test_nothing_to_write_writes_nothing_and_a_primary_key_is_refused():
    assert rows_update([], ["name"]) == 0
    with pytest.raises(ValueError, match="primary-key"):
        rows_update([ContactFactory()], ["id"])


# --- the event loop's pool ----------------------------------------------------------------------------


async def _until_blocked_by(watcher, backend_pid: int) -> None:
    """Wait until some statement waits on a lock `backend_pid` holds (deadline: the test's)."""
    while True:
        cursor = await watcher.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", [backend_pid])
        if (await cursor.fetchone())[0]:
            return
        await asyncio.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_a_message_waiting_on_a_locked_chat_holds_up_no_other_chats_message(private_channel_layer):
    from conversations import services, widget
    from conversations.models import Message

    slow, other = (widget.Session(contact_id=ContactFactory().pk) for _ in range(2))
    slow_first = services.visitor_message_send(session=slow, body="Hello", client_id="s1")
    other_first = services.visitor_message_send(session=other, body="Hello", client_id="o1")

    async def scenario() -> tuple:
        params = libpq_params()
        async with await psycopg.AsyncConnection.connect(**params) as locker, \
                await psycopg.AsyncConnection.connect(**params, autocommit=True) as watcher:
            # given: a transaction elsewhere holds the slow chat's row
            await locker.execute("SELECT 1 FROM conversations_conversation WHERE id = %s FOR UPDATE",
                                 [slow_first.conversation_id])
            waiting = asyncio.create_task(services.visitor_message_send_async(
                session=slow, body="Still there?", client_id="s2", conversation_id=slow_first.conversation_id))
            await asyncio.wait_for(_until_blocked_by(watcher, locker.info.backend_pid), timeout=30)

            # when: another customer writes in their own chat
            other_second = await asyncio.wait_for(services.visitor_message_send_async(
                session=other, body="Any news?", client_id="o2", conversation_id=other_first.conversation_id),
                timeout=30)

            # then: it is stored while the first still waits, which goes on once the row is free
            still_waiting = not waiting.done()
            await locker.rollback()
            return other_second, still_waiting, await asyncio.wait_for(waiting, timeout=30)

    other_second, still_waiting, slow_second = asyncio.run(scenario())

    assert still_waiting
    assert (other_second.sequence, slow_second.sequence) == (2, 2)
    assert Message.objects.filter(conversation_id__in=[slow_first.conversation_id,
                                                       other_first.conversation_id]).count() == 4


@pytest.mark.django_db(transaction=True)
def test_the_loops_pool_hands_out_no_connection_killed_by_a_restart():
    async def backend_pid() -> int:
        async with loop_connection() as db:
            return (await (await db.execute("SELECT pg_backend_pid()")).fetchone())[0]

    async def scenario() -> tuple[int, int]:
        before = await backend_pid()
        # a PostgreSQL restart, as far as this connection can tell: the server ends it
        async with await psycopg.AsyncConnection.connect(**libpq_params(), autocommit=True) as admin:
            await admin.execute("SELECT pg_terminate_backend(%s)", [before])
            while await (await admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                                             [before])).fetchone():
                await asyncio.sleep(0.05)
        return before, await backend_pid()

    before, after = asyncio.run(scenario())

    assert after != before


@pytest.mark.django_db(transaction=True)
def test_the_pools_check_asks_a_live_idle_connection_nothing_and_refuses_one_the_server_ended():
    # The check runs before every chat message the event loop stores: a statement to the
    # server each time was a round trip per message.
    async def scenario() -> tuple[list[object], type[BaseException] | None]:
        sent: list[object] = []
        async with await psycopg.AsyncConnection.connect(**libpq_params(), autocommit=True) as live:
            execute = live.execute

            async def counted(query: object, *args: object, **kwargs: object) -> object:
                sent.append(query)
                return await execute(query, *args, **kwargs)

            live.execute = counted
            await connection_check(live)
            live_sent = list(sent)
            pid = live.info.backend_pid
            async with await psycopg.AsyncConnection.connect(**libpq_params(), autocommit=True) as admin:
                await admin.execute("SELECT pg_terminate_backend(%s)", [pid])
                while await (await admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                                                 [pid])).fetchone():
                    await asyncio.sleep(0.05)
            try:
                await connection_check(live)
            except psycopg.OperationalError as error:
                return live_sent, type(error)
            return live_sent, None

    live_sent, refused = asyncio.run(scenario())

    assert live_sent == []
    assert refused is not None and issubclass(refused, psycopg.OperationalError)


@pytest.mark.django_db(transaction=True)
def test_a_loop_that_used_the_pool_ends_even_while_the_pool_is_still_connecting(caplog):
    # The first statement of a loop finds the pool connecting twice (its minimum, and growing
    # for the waiting client): it ends with a connection attempt still under way, whose
    # cancellation the pool's worker swallows. The loop's end must not wait for it forever.
    import logging
    import threading

    # The pool logs each swallowed cancellation ("error connecting"); a captured record would
    # keep the half-made connection in its traceback open until the test database is dropped.
    caplog.set_level(logging.ERROR, logger="psycopg.pool")

    async def one_statement() -> None:
        async with loop_connection() as db:
            await db.execute("SELECT 1")

    def loops() -> None:
        try:
            for _ in range(5):
                asyncio.run(one_statement())
        finally:
            connection.close()  # this thread's Django connection, if anything opened it

    ended = threading.Thread(target=loops, daemon=True, name="loops")
    ended.start()
    ended.join(timeout=20)

    assert not ended.is_alive(), "an event loop's end hung on its pool"


@pytest.mark.django_db
def test_in_array_finds_the_rows_of_a_list_of_ids_as_one_parameter():
    from conversations.models import Conversation
    from tests.factories import ContactFactory

    contact = ContactFactory()
    first, second = (Conversation.objects.create(contact=contact, channel="chat", language="es") for _ in range(2))
    with CaptureQueriesContext(connection) as queries:
        found = set(Conversation.objects.filter(pk__in_array=[first.pk, 10**12]).values_list("pk", flat=True))
    assert found == {first.pk} and "= ANY(" in queries[0]["sql"]
    assert set(Conversation.objects.filter(contact_id__in_array={contact.pk}).values_list("pk", flat=True)) == {
        first.pk, second.pk}  # a foreign key, from a set
    assert set(Conversation.objects.filter(contact__in_array=[contact.pk]).values_list("pk", flat=True)) == {
        first.pk, second.pk}
    assert not Conversation.objects.filter(pk__in_array=[]).exists()
