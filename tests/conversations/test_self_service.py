"""The widget's self-service (conversations/services/self_service.py and its endpoints): a signed-in
customer's orders and the answers about them in their language, the cancel through the OMS (its
refusal and its silence said in the customer's words), a missing item and "talk to an agent"
opening a chat that carries the order, a first message answered when it asks about an order, a
courier's delivery and a partner's store, and only one's own orders."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from conversations import widget
from conversations.models import Conversation, Message, MessageDirection, SelfServiceSession
from conversations.order_actions import ORDER_CANCEL, _actions
from conversations.services.self_service import self_service_first_message
from integrations.oms.client import get_oms_client
from routing.models import Queue, WorkItem
from tests.bench.harness import free_port
from tests.factories import ContactFactory, CourierFactory, OrderFactory, PartnerFactory, SupervisorFactory
from timeline.models import Order, OrderStatus, OrderStatusChange

pytestmark = pytest.mark.django_db

MADRID = ZoneInfo("Europe/Madrid")


@pytest.fixture(autouse=True)
def _desk(settings):
    settings.REDIS_KEY_PREFIX = f"test-{uuid.uuid4().hex}"  # rate-limit counters of our own
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.OMS_CLIENT = "fake"
    Queue.objects.get_or_create(key="general", defaults={"name": "General"})


def session_of(contact) -> str:
    return widget.session_encode(widget.Session(contact_id=contact.pk))


def call(client, path: str, body: dict, *, contact=None):
    if contact is not None:
        body = {"session": session_of(contact), "time_zone": "Europe/Madrid", **body}
    return client.post(f"/widget/self-service{path}", data=json.dumps(body), content_type="application/json")


def tomorrow_at(hour: int, minute: int) -> datetime:
    day = timezone.now().astimezone(MADRID).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=MADRID)


@pytest.fixture
def ana():
    """A Spanish-speaking customer with an order on its way, late, brought by Marta."""
    customer = ContactFactory(preferred_language="es", name="Ana")
    courier = CourierFactory(name="Marta")
    OrderFactory(customer=customer, external_id="O-OLD", status=OrderStatus.DELIVERED,
                 placed_at=timezone.now() - timedelta(days=3), delivered_at=timezone.now() - timedelta(days=3))
    order = OrderFactory(customer=customer, courier=courier, external_id="O-100", status=OrderStatus.IN_DELIVERY,
                         promised_at=tomorrow_at(15, 30), is_delayed=True, delay_minutes=20,
                         delay_reason="heavy rain")
    return customer, order


# --- the orders before a chat ---------------------------------------------------------------------


def test_a_signed_in_customer_sees_their_recent_orders_in_their_language(client, ana):
    customer, order = ana

    response = call(client, "", {}, contact=customer)

    assert response.status_code == 200
    body = response.json()
    assert body["kind"] == "customer" and body["language"] == "es"
    newest, older = body["orders"]
    assert newest["reference"] == "O-100" and newest["status_text"] == "En camino"
    assert newest["late_minutes"] == 20
    assert any("15:30" in line and line.startswith("Prometido para") for line in newest["lines"])
    assert "20 minutos de retraso." in newest["lines"] and "Marta te lo está llevando." in newest["lines"]
    assert newest["topics"] == ["order_status", "late"]  # on its way: no longer cancellable
    assert older["reference"] == "O-OLD" and older["topics"] == ["order_status", "missing_item"]


def test_an_english_customer_reads_times_the_english_way(client, ana):
    customer, _order = ana
    customer.preferred_language = "en"
    customer.save()

    lines = call(client, "", {}, contact=customer).json()["orders"][0]["lines"]

    assert any(line.startswith("Promised for") and "3:30 p.m." in line for line in lines)


def test_an_anonymous_visitor_has_no_self_service(client):
    anonymous = widget.session_encode(widget.Session(visitor=uuid.uuid4().hex))

    body = call(client, "", {"session": anonymous}).json()

    assert body["kind"] == "" and body["orders"] == []


# --- the answers ----------------------------------------------------------------------------------


def test_where_is_my_order_gives_status_promise_delay_reason_and_courier(client, ana):
    customer, order = ana

    answer = call(client, "/answer", {"topic": "order_status", "order_id": order.pk},
                  contact=customer).json()["answer"]

    assert answer["outcome"] == "answered"
    assert answer["lines"][0] == "Pedido O-100: En camino."
    assert "Motivo: heavy rain" in answer["lines"]  # the OMS's reason, as it wrote it
    assert "Marta te lo está llevando." in answer["lines"]
    assert not Conversation.objects.exists()


def test_it_is_late_gives_the_delay_and_the_new_estimate(client, ana):
    customer, order = ana

    answer = call(client, "/answer", {"topic": "late", "order_id": order.pk}, contact=customer).json()["answer"]

    assert "Lleva 20 minutos de retraso; la nueva estimación es" in answer["lines"][1]
    assert "15:50" in answer["lines"][1]


def test_it_is_late_says_so_when_it_is_not(client):
    customer = ContactFactory(preferred_language="es")
    order = OrderFactory(customer=customer, status=OrderStatus.PREPARING, promised_at=tomorrow_at(9, 5))

    answer = call(client, "/answer", {"topic": "late", "order_id": order.pk}, contact=customer).json()["answer"]

    assert answer["lines"][1].startswith("No va con retraso: se espera para las") and "09:05" in answer["lines"][1]


def test_cancel_asks_first_then_cancels_through_the_oms_once(client):
    customer = ContactFactory(preferred_language="es")
    order = OrderFactory(customer=customer, external_id="O-200", status=OrderStatus.PREPARING)
    fake = get_oms_client()

    asked = call(client, "/answer", {"topic": "cancel", "order_id": order.pk}, contact=customer).json()["answer"]
    assert asked["outcome"] == "confirm"
    assert asked["lines"][1] == "¿Cancelar el pedido O-200? No se puede deshacer."
    assert "self-service-cancel:O-200" not in fake.cancellations

    done = call(client, "/answer", {"topic": "cancel", "order_id": order.pk, "confirm": True},
                contact=customer).json()["answer"]
    again = call(client, "/answer", {"topic": "cancel", "order_id": order.pk, "confirm": True},
                 contact=customer).json()["answer"]

    assert done["outcome"] == again["outcome"] == "answered"
    assert done["lines"] == again["lines"] == ["El pedido O-200 está cancelado."]
    assert fake.cancellations["self-service-cancel:O-200"].status == "cancelled"
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and order.cancelled_at is not None
    # the mirror took the OMS's answer once: one status change, under the cancel's key
    assert list(OrderStatusChange.objects.filter(order=order).values_list("status", "source_event_id")) == [
        ("cancelled", "self-service-cancel:O-200")]
    assert done["order"]["status_text"] == "Cancelado" and done["order"]["topics"] == ["order_status"]


def test_cancel_is_not_offered_once_the_order_is_on_its_way(client, ana):
    customer, order = ana

    answer = call(client, "/answer", {"topic": "cancel", "order_id": order.pk, "confirm": True},
                  contact=customer).json()["answer"]

    assert answer["outcome"] == "refused"
    assert answer["lines"] == ["El pedido O-100 ya no se puede cancelar: ya está en camino."]


def test_the_oms_refusal_is_said_in_the_customers_words_not_the_oms(client, fake_oms):
    # given the mirror still says "preparing", while the OMS has the order out for delivery
    customer = ContactFactory(preferred_language="de")
    order = OrderFactory(customer=customer, external_id="O-300", status=OrderStatus.PREPARING)
    fake_oms.state.order_status_set("O-300", "in_delivery")

    answer = call(client, "/answer", {"topic": "cancel", "order_id": order.pk, "confirm": True},
                  contact=customer).json()["answer"]

    assert answer["outcome"] == "refused"
    assert answer["lines"] == ["Die Bestellung O-300 kann nicht mehr storniert werden: Sie ist schon unterwegs."]
    order.refresh_from_db()
    assert order.status == OrderStatus.PREPARING  # nothing changed on the desk's side
    assert fake_oms.calls() == []  # a refusal is not kept under the key: a retry asks again


def test_the_cancel_goes_over_http_with_its_idempotency_key(client, fake_oms):
    customer = ContactFactory(preferred_language="es")
    order = OrderFactory(customer=customer, external_id="O-301", status=OrderStatus.ACCEPTED)

    for _ in range(2):
        answer = call(client, "/answer", {"topic": "cancel", "order_id": order.pk, "confirm": True},
                      contact=customer).json()["answer"]
        assert answer["lines"] == ["El pedido O-301 está cancelado."]

    [cancel] = fake_oms.calls()
    assert (cancel["kind"], cancel["subject"], cancel["idempotency_key"]) == (
        "cancel", "O-301", "self-service-cancel:O-301")
    assert cancel["replays"] == 0  # the second click found the mirror cancelled by this very key


def test_an_unreachable_oms_is_said_clearly_and_changes_nothing(client, settings):
    settings.OMS_CLIENT = "http"
    settings.OMS_API_URL = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
    settings.OMS_API_TIMEOUT_SECONDS = 2
    customer = ContactFactory(preferred_language="fr")
    order = OrderFactory(customer=customer, external_id="O-302", status=OrderStatus.CREATED)

    answer = call(client, "/answer", {"topic": "cancel", "order_id": order.pk, "confirm": True},
                  contact=customer).json()["answer"]

    assert answer["outcome"] == "unavailable"
    assert answer["lines"] == ["Nous ne pouvons pas joindre le système de commandes pour le moment. "
                               "Réessayez dans quelques minutes ou parlez à un conseiller."]
    order.refresh_from_db()
    assert order.status == OrderStatus.CREATED


def test_integrations_register_the_oms_cancel():
    from integrations.order_actions import oms_order_cancel

    assert _actions[ORDER_CANCEL] is oms_order_cancel


def test_a_missing_item_opens_a_chat_with_the_order_for_an_agent(client, ana, django_capture_on_commit_callbacks):
    customer, _order = ana
    delivered = Order.objects.get(external_id="O-OLD")

    with django_capture_on_commit_callbacks(execute=True):  # routing runs once the chat is committed
        answer = call(client, "/answer", {"topic": "missing_item", "order_id": delivered.pk, "client_id": "c-1"},
                      contact=customer).json()["answer"]

    assert answer["outcome"] == "chat_opened"
    assert answer["lines"] == ["Hemos abierto un chat sobre el artículo que falta en el pedido O-OLD. "
                               "Cuéntanos qué falta; un agente te responderá aquí."]
    conversation = Conversation.objects.get(pk=answer["conversation_id"])
    assert conversation.contact_id == customer.pk and conversation.order_id == delivered.pk
    assert (conversation.contact_reason, conversation.intent) == ("missing_item", "missing_item")
    assert conversation.routed_at is not None  # routed as any chat
    assert WorkItem.objects.get(conversation_id=conversation.pk).attributes["contact_reason"] == "missing_item"
    [note] = Message.objects.filter(conversation=conversation)
    assert note.direction == MessageDirection.NOTE and "O-OLD" in note.body
    # and the agent's workspace shows the order the chat is about
    client.force_login(SupervisorFactory())
    page = client.get(reverse("desk:conversation", kwargs={"conversation_id": conversation.pk}))
    assert b'data-testid="conversation-order" data-order="O-OLD"' in page.content


def test_talk_to_an_agent_opens_a_chat_carrying_the_order_and_the_question(client, ana,
                                                                         django_capture_on_commit_callbacks):
    customer, order = ana
    body = {"topic": "order_status", "order_id": order.pk, "text": "¿dónde está mi pedido?", "client_id": "c-2"}

    with django_capture_on_commit_callbacks(execute=True):
        first = call(client, "/agent", body, contact=customer)
        again = call(client, "/agent", body, contact=customer)  # a retry after a timeout

    assert first.status_code == 200 and first.json() == again.json()
    conversation = Conversation.objects.get(pk=first.json()["conversation_id"])
    assert conversation.order_id == order.pk
    assert list(conversation.messages.values_list("direction", flat=True).order_by("sequence")) == [
        MessageDirection.NOTE, MessageDirection.INBOUND]
    assert conversation.messages.get(direction=MessageDirection.INBOUND).body == "¿dónde está mi pedido?"
    assert conversation.intent == "order_status"  # recognised from the first message, as routing does


# --- ownership ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/answer", "/agent"])
def test_another_customers_order_is_not_found(client, ana, path):
    _customer, order = ana
    someone_else = ContactFactory()

    response = call(client, path, {"topic": "order_status", "order_id": order.pk}, contact=someone_else)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "order_not_found"
    assert not Conversation.objects.exists()


def test_bad_input_gets_a_clear_400_or_401(client, ana):
    customer, order = ana

    assert call(client, "/answer", {"topic": "refund", "order_id": order.pk}, contact=customer).status_code == 400
    assert call(client, "/answer", {"topic": "late", "order_id": "1"}, contact=customer).status_code == 400
    assert call(client, "/answer", {"session": "forged", "topic": "late"}).status_code == 401
    assert client.post("/widget/self-service", data="{", content_type="application/json").status_code == 400


# --- the first message ----------------------------------------------------------------------------


def test_a_first_message_about_an_order_is_answered_without_a_chat(client, ana):
    customer, _order = ana

    answer = call(client, "/ask", {"text": "¿dónde está mi pedido?"}, contact=customer).json()["answer"]

    assert answer["topic"] == "order_status" and answer["question"] == "¿dónde está mi pedido?"
    assert answer["lines"][0] == "Pedido O-100: En camino."  # the newest order, in Spanish
    assert not Conversation.objects.exists() and not WorkItem.objects.exists()


def test_an_answer_counts_as_self_service_and_the_agent_then_reads_what_the_customer_was_told(
        client, ana, django_capture_on_commit_callbacks):
    from conversations.deflection import answers_before

    customer, order = ana
    call(client, "/ask", {"text": "¿dónde está mi pedido?"}, contact=customer)
    call(client, "/answer", {"topic": "order_status", "order_id": order.pk}, contact=customer)  # asked again
    call(client, "/answer", {"topic": "cancel", "order_id": order.pk}, contact=customer)  # refused: on its way

    session = SelfServiceSession.objects.get()  # one session, answered twice (a repeat is not recorded)
    assert session.contact == customer and session.followed_at is None and session.language == "es"
    assert sorted(session.answers.values_list("kind", "ref")) == [("cancel", str(order.pk)),
                                                                 ("order_status", str(order.pk))]

    with django_capture_on_commit_callbacks(execute=True):
        conversation_id = call(client, "/agent", {"topic": "order_status", "order_id": order.pk,
                                                  "client_id": "c-9"}, contact=customer).json()["conversation_id"]

    session.refresh_from_db()
    assert session.followed_at is not None and session.conversation_id == conversation_id  # not deflected
    told = [answer.title for answer in answers_before(conversation_id=conversation_id)]
    assert told[0].startswith("Pedido O-100: En camino.")


def test_asking_to_confirm_a_cancel_is_no_answer_yet(client):
    customer = ContactFactory(preferred_language="es")
    order = OrderFactory(customer=customer, external_id="O-201", status=OrderStatus.CREATED)

    answer = call(client, "/answer", {"topic": "cancel", "order_id": order.pk}, contact=customer).json()["answer"]

    assert answer["outcome"] == "confirm" and not SelfServiceSession.objects.exists()


def test_an_order_with_a_long_id_is_answered_and_counted(client):
    customer = ContactFactory(preferred_language="en")
    order = OrderFactory(customer=customer, external_id="ORD-" + "7" * 120, status=OrderStatus.CREATED)

    response = call(client, "/answer", {"topic": "cancel", "order_id": order.pk, "confirm": True},
                    contact=customer)

    assert response.status_code == 200 and response.json()["answer"]["outcome"] == "answered"
    assert SelfServiceSession.objects.get().answers.get().ref == str(order.pk)


def test_a_missing_item_is_for_a_delivered_order_only(client, ana):
    customer, order = ana  # on its way

    response = call(client, "/answer", {"topic": "missing_item", "order_id": order.pk}, contact=customer)

    assert response.status_code == 404 and response.json()["error"]["code"] == "topic_not_offered"
    assert not Conversation.objects.exists()


def test_a_cancel_the_oms_answers_with_another_status_is_a_refusal(client, monkeypatch):
    from conversations import order_actions

    customer = ContactFactory(preferred_language="en")
    order = OrderFactory(customer=customer, external_id="O-300", status=OrderStatus.CREATED)
    done = order_actions.OrderActionDone(status=OrderStatus.IN_DELIVERY, at=None)
    monkeypatch.setitem(_actions, ORDER_CANCEL, lambda **kwargs: done)

    answer = call(client, "/answer", {"topic": "cancel", "order_id": order.pk, "confirm": True},
                  contact=customer).json()["answer"]

    assert answer["outcome"] == "refused"
    assert answer["lines"] == ["Order O-300 can no longer be cancelled: it is already on its way."]
    assert Order.objects.get(pk=order.pk).status == OrderStatus.IN_DELIVERY


def test_a_first_message_asking_to_cancel_asks_to_confirm_and_cancels_nothing(client):
    customer = ContactFactory(preferred_language="es")
    OrderFactory(customer=customer, external_id="O-400", status=OrderStatus.ACCEPTED)

    answer = call(client, "/ask", {"text": "quiero cancelar mi pedido"}, contact=customer).json()["answer"]

    assert answer["outcome"] == "confirm"
    assert Order.objects.get(external_id="O-400").status == OrderStatus.ACCEPTED


def test_below_the_threshold_the_first_message_goes_to_a_chat(ana):
    customer, _order = ana
    session = widget.Session(contact_id=customer.pk)

    # "¿dónde está mi pedido?" is recognised with about 0.93: under a stricter threshold it is unsure
    assert self_service_first_message(session=session, text="¿dónde está mi pedido?", language="es") is not None
    assert self_service_first_message(session=session, text="¿dónde está mi pedido?", language="es",
                                      threshold=0.99) is None


@pytest.mark.parametrize("text", ["no puedo entrar en mi cuenta", "hola", "asdf qwer zxcv"])
def test_other_intents_and_small_talk_go_to_a_chat(client, ana, text):
    customer, _order = ana

    assert call(client, "/ask", {"text": text}, contact=customer).json() == {"answer": None}


def test_a_customer_without_orders_or_an_anonymous_visitor_goes_to_a_chat(client):
    anonymous = widget.session_encode(widget.Session(visitor=uuid.uuid4().hex))

    assert call(client, "/ask", {"text": "¿dónde está mi pedido?"}, contact=ContactFactory()).json() == {
        "answer": None}
    asked = {"session": anonymous, "text": "¿dónde está mi pedido?"}
    assert call(client, "/ask", asked).json() == {"answer": None}


def test_a_first_message_about_a_missing_item_opens_its_chat_with_the_words(client):
    customer = ContactFactory(preferred_language="es")
    order = OrderFactory(customer=customer, external_id="O-500", status=OrderStatus.DELIVERED)

    answer = call(client, "/ask", {"text": "me falta un producto en el pedido", "client_id": "c-3"},
                  contact=customer).json()["answer"]

    conversation = Conversation.objects.get(pk=answer["conversation_id"])
    assert conversation.order_id == order.pk and conversation.intent == "missing_item"
    assert 0.5 <= conversation.intent_confidence < 1
    first = conversation.messages.get(direction=MessageDirection.INBOUND)
    assert first.body == "me falta un producto en el pedido"


# --- couriers and partners ------------------------------------------------------------------------


def test_a_courier_sees_their_current_delivery(client):
    courier = CourierFactory(preferred_language="es")
    partner = PartnerFactory(store_name="Pizzería Sol")
    customer = ContactFactory(name="Luis")
    order = OrderFactory(customer=customer, courier=courier, partner=partner, external_id="O-600",
                         status=OrderStatus.IN_DELIVERY)
    courier.current_order = order
    courier.save()

    body = call(client, "", {}, contact=courier).json()

    assert body["kind"] == "courier"
    assert body["answer"]["lines"] == ["Pedido O-600: En camino.", "Recoger en Pizzería Sol.", "Entregar a Luis."]
    assert not SelfServiceSession.objects.exists()  # opening the widget asks nothing: no self-service counted
    # and "talk to an agent" carries that delivery
    chat = call(client, "/agent", {"topic": "courier_delivery"}, contact=courier).json()
    assert Conversation.objects.get(pk=chat["conversation_id"]).order_id == order.pk


def test_a_courier_without_a_delivery_is_told_so(client):
    courier = CourierFactory(preferred_language="es")
    OrderFactory(courier=courier, status=OrderStatus.DELIVERED)

    lines = call(client, "", {}, contact=courier).json()["answer"]["lines"]
    assert lines == ["Ahora mismo no tienes ninguna entrega."]


def test_a_partner_sees_their_store_today(client):
    partner = PartnerFactory(preferred_language="es")
    for status in (OrderStatus.PREPARING, OrderStatus.PREPARING, OrderStatus.DELIVERED):
        OrderFactory(partner=partner, status=status)
    OrderFactory(partner=partner, external_id="O-700", status=OrderStatus.READY, is_delayed=True, delay_minutes=15)
    OrderFactory(partner=PartnerFactory(), status=OrderStatus.PREPARING)  # another store's

    lines = call(client, "", {}, contact=partner).json()["answer"]["lines"]

    assert lines == ["Pedidos de hoy: 4.", "En preparación: 2", "Listo para recoger: 1", "Entregado: 1",
                     "Con retraso ahora: 1.", "Pedido O-700: 15 minutos de retraso."]


def test_a_customer_cannot_ask_for_a_partners_store(client, ana):
    customer, _order = ana

    assert call(client, "/answer", {"topic": "partner_store"}, contact=customer).status_code == 404
