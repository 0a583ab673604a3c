"""The desk's contact page: a header per kind of contact, the timeline with its filters and
older pages, links to each event's object, escaping, and who may open it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from tests.factories import (
    AgentProfileFactory,
    ContactFactory,
    CourierFactory,
    OrderFactory,
    PartnerFactory,
    UserFactory,
)
from timeline import events
from timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db

START = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def desk(client):
    client.force_login(AgentProfileFactory().user)
    return client


def _url(contact) -> str:
    return f"/desk/contacts/{contact.pk}/"


def _event(contact, kind: str, at: datetime, **extra) -> TimelineEvent:
    event = TimelineEvent(contact=contact, kind=kind, occurred_at=at, actor="system", **extra)
    event.save(force_insert=True)
    return event


def _kinds(response) -> list[str]:
    return re.findall(r'data-testid="timeline-event" data-kind="([^"]+)"', response.content.decode())


def _testid(response, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</', response.content.decode(), re.S)
    assert match, f"{testid} not on the page"
    return match.group(1).strip()


def test_a_customer_header_shows_value_orders_tier_credit_and_coupons(desk):
    contact = ContactFactory(lifetime_order_value=Decimal("1234.50"), order_count=7, tier="gold",
                             credit_balance=Decimal("15.00"), attributes={"coupons": ["SORRY10", "WELCOME"]})

    response = desk.get(_url(contact))

    assert response.status_code == 200
    assert _testid(response, "lifetime-order-value") == "1234.50"
    assert _testid(response, "order-count") == "7"
    assert _testid(response, "tier") == "Gold"
    assert _testid(response, "credit") == "15.00"
    assert _testid(response, "coupons") == "SORRY10, WELCOME"
    assert b'data-testid="vehicle"' not in response.content


def test_a_courier_header_shows_vehicle_status_and_current_delivery(desk):
    order = OrderFactory(external_id="O-77", status="in_delivery")
    courier = CourierFactory(vehicle="scooter", courier_status="active", current_order=order)

    response = desk.get(_url(courier))

    assert _testid(response, "vehicle") == "Scooter"
    assert _testid(response, "courier-status") == "Active"
    delivery = response.content.decode().split('data-testid="current-delivery"')[1][:300]
    assert f'<a href="/desk/orders/{order.pk}/">O-77</a>' in delivery  # the desk's order page, not the admin
    assert b'data-testid="lifetime-order-value"' not in response.content


def test_a_partner_header_shows_store_and_category(desk):
    partner = PartnerFactory(store_name="Casa Pepe", store_category="restaurant")

    response = desk.get(_url(partner))

    assert _testid(response, "store") == "Casa Pepe"
    assert _testid(response, "store-category") == "restaurant"


def test_the_timeline_is_newest_first_and_links_each_event_to_its_object(desk):
    # given an order event, a conversation event and a contact event
    contact = ContactFactory()
    order = OrderFactory(customer=contact)
    events.order_created_event(contact_id=contact.pk, order=order, occurred_at=START, actor="oms")
    events.conversation_opened_event(contact_id=contact.pk, conversation_id=42, channel="chat", subject="",
                                     occurred_at=START + timedelta(minutes=1), actor="contact")
    events.contact_created_event(contact=contact, occurred_at=START - timedelta(minutes=1), actor="oms")

    # when the page is opened
    response = desk.get(_url(contact))

    # then newest first; the conversation and the order link to their desk pages, never to the
    # admin or the raw API, whoever looks (an agent, or staff who could open the admin)
    assert _kinds(response) == ["conversation.opened", "order.created", "contact.created"]
    links = re.findall(r'<a href="([^"]+)" data-testid="event-link">', response.content.decode())
    assert links == ["/desk/c/42/", f"/desk/orders/{order.pk}/"]
    supervise = Permission.objects.get(codename="supervise", content_type__app_label="supportdesk")
    view_order = Permission.objects.get(codename="view_order", content_type__app_label="timeline")
    user = UserFactory(is_staff=True)
    user.user_permissions.add(supervise, view_order)
    desk.force_login(user)
    page = desk.get(_url(contact)).content.decode()
    assert re.findall(r'<a href="([^"]+)" data-testid="event-link">', page) == [
        "/desk/c/42/", f"/desk/orders/{order.pk}/"]


def test_kind_and_date_filters_narrow_the_timeline(desk):
    contact = ContactFactory()
    _event(contact, "order.created", START)
    _event(contact, "order.delayed", START + timedelta(days=1))
    _event(contact, "conversation.opened", START + timedelta(days=1, minutes=1))
    _event(contact, "order.delivered", START + timedelta(days=3))

    response = desk.get(_url(contact), {"kind": "order", "since": "2026-01-11", "until": "2026-01-12"})

    assert response.status_code == 200
    assert _kinds(response) == ["order.delayed"]
    # the form keeps what was chosen
    assert 'value="order" selected' in response.content.decode()
    assert 'name="since" value="2026-01-11"' in response.content.decode()


def test_older_pages_follow_the_cursor_and_keep_the_filters(desk):
    # given five order events and a conversation event
    contact = ContactFactory()
    for minute in range(5):
        _event(contact, "order.updated", START + timedelta(minutes=minute))
    _event(contact, "conversation.opened", START + timedelta(minutes=10))

    # when reading order events two at a time, following the "older" links
    seen, url, params = [], _url(contact), {"kind": "order", "page_size": 2}
    while url:
        response = desk.get(url, params)
        seen += re.findall(r"<time datetime=\"([^\"]+)\"", response.content.decode())
        match = re.search(r'<a href="([^"]+)" data-testid="older">', response.content.decode())
        url, params = (match.group(1).replace("&amp;", "&"), None) if match else (None, None)

    # then every order event shows once, newest first, and nothing else
    expected = [(START + timedelta(minutes=minute)).isoformat() for minute in reversed(range(5))]
    assert seen == expected


def test_payload_text_is_escaped(desk):
    contact = ContactFactory(name="<b>Eve</b>")
    _event(contact, "conversation.note", START, payload={"excerpt": "<script>alert(1)</script>"})

    response = desk.get(_url(contact))

    page = response.content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>Eve</b>" not in page


@pytest.mark.parametrize("params", [{"since": "someday"}, {"kind": "bogus"}, {"cursor": "x"}])
def test_bad_filters_are_explained_with_400(desk, params):
    contact = ContactFactory()

    response = desk.get(_url(contact), params)

    assert response.status_code == 400
    assert _testid(response, "timeline-problem")


def test_an_unknown_contact_is_404(desk):
    response = desk.get("/desk/contacts/999999/")

    assert response.status_code == 404


def test_a_supervisor_without_an_agent_profile_may_open_it(client):
    supervisor = UserFactory()
    supervisor.user_permissions.add(Permission.objects.get(codename="supervise",
                                                           content_type__app_label="supportdesk"))
    client.force_login(supervisor)

    response = client.get(_url(ContactFactory()))

    assert response.status_code == 200


def test_a_signed_in_user_who_is_not_on_the_desk_is_refused(client):
    client.force_login(UserFactory())
    contact = ContactFactory(name="Secret Person")

    response = client.get(_url(contact))

    assert response.status_code == 403
    assert b"Secret Person" not in response.content


def test_strangers_are_sent_to_the_login_page(client):
    contact = ContactFactory()

    response = client.get(_url(contact))

    assert response.status_code == 302
    assert response["Location"].startswith("/desk/login/")


def test_the_workspace_sidebar_links_to_the_full_timeline(desk):
    from django.template.loader import render_to_string

    contact = ContactFactory()
    html = render_to_string("desk/_contact.html", {"sidebar": {"contact": contact, "kind": contact.kind}})

    assert f'href="/desk/contacts/{contact.pk}/"' in html


def test_the_workspace_panel_shows_the_newest_events_with_links(desk):
    contact = ContactFactory()
    order = OrderFactory(customer=contact)
    for minute in range(20):
        _event(contact, "order.status_changed", START + timedelta(minutes=minute),
               subject_type="order", subject_id=order.pk, payload={"status": f"<b>s{minute}</b>"})

    response = desk.get(f"/desk/contacts/{contact.pk}/timeline/")

    assert response.status_code == 200
    assert len(_kinds(response)) == 15  # the newest fifteen; the page has the rest
    html = response.content.decode()
    assert html.index("s19") < html.index("s18")  # newest first
    assert "&lt;b&gt;s19&lt;/b&gt;" in html and "<b>s19</b>" not in html
    assert f"/desk/orders/{order.pk}/" in html and "/api/v1/orders/" not in html


def test_an_agent_finds_a_contact_by_a_partial_unaccented_name_and_opens_it(desk):
    lucia = ContactFactory(name="Lucía Fernández", external_id="C-LUCIA")
    ContactFactory(name="Marco Rossi")

    response = desk.get("/desk/contacts/", {"q": "lucia fern"})

    assert response.status_code == 200
    ids = re.findall(r'data-testid="search-result" data-contact-id="(\d+)"', response.content.decode())
    assert ids == [str(lucia.pk)]
    assert f'href="/desk/contacts/{lucia.pk}/"' in response.content.decode()


@pytest.mark.parametrize(("params", "status"), [({"q": "x"}, 400), ({"q": "ana", "kind": "robot"}, 400)])
def test_a_bad_search_says_what_is_wrong_on_the_page(desk, params, status):
    response = desk.get("/desk/contacts/", params)

    assert response.status_code == status
    assert _testid(response, "search-problem")


def test_the_search_page_is_for_the_desk_only(client):
    client.force_login(UserFactory())
    assert client.get("/desk/contacts/", {"q": "ana"}).status_code == 403
    client.logout()
    assert client.get("/desk/contacts/", {"q": "ana"}).status_code == 302


def test_a_conversation_on_the_timeline_says_what_was_said_in_it(desk, settings):
    from conversations import services
    from conversations.models import Channel, MessageDirection

    settings.CELERY_TASK_ALWAYS_EAGER = True
    contact = ContactFactory()
    agent = UserFactory()
    conversation = services.conversation_open(contact=contact, channel=Channel.EMAIL)
    services.message_create(conversation=conversation, direction=MessageDirection.INBOUND, body="Where is it?")
    services.message_create(conversation=conversation, direction=MessageDirection.OUTBOUND,
                            body="On its way <b>now</b>", author=agent)
    services.message_create(conversation=conversation, direction=MessageDirection.NOTE,
                            body="internal: VIP", author=agent)

    response = desk.get(_url(contact))

    summary = _testid(response, "conversation-summary")
    assert "2 messages" in summary and "On its way &lt;b&gt;now&lt;/b&gt;" in summary
    assert "internal: VIP" not in summary  # notes are not counted or quoted as what was said
