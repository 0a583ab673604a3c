"""GET /api/v1/contacts/{id}/timeline/: order, filters, cursor pages, links, errors, access."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest

from tests.factories import ContactFactory, OrderFactory
from timeline import events
from timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db

START = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def _url(contact_id: int) -> str:
    return f"/api/v1/contacts/{contact_id}/timeline/"


def _event(contact, kind: str, at: datetime, **extra) -> TimelineEvent:
    event = TimelineEvent(contact=contact, kind=kind, occurred_at=at, actor="system", **extra)
    event.save(force_insert=True)
    return event


def _kinds(response) -> list[str]:
    return [row["kind"] for row in response.json()["results"]]


def test_events_come_newest_first_with_their_fields(agent_client):
    # given a contact with three events at different moments, and another contact's event
    contact = ContactFactory()
    _event(contact, "order.created", START)
    _event(contact, "conversation.opened", START + timedelta(hours=2))
    _event(contact, "order.delayed", START + timedelta(hours=1), payload={"delay_minutes": 20})
    _event(ContactFactory(), "order.created", START + timedelta(hours=3))

    # when the timeline is read
    response = agent_client.get(_url(contact.pk))

    # then it holds only this contact's events, newest first, each with its fields
    assert response.status_code == 200
    assert _kinds(response) == ["conversation.opened", "order.delayed", "order.created"]
    delayed = response.json()["results"][1]
    assert delayed["payload"] == {"delay_minutes": 20}
    assert delayed["actor"] == "system"
    assert delayed["occurred_at"].startswith("2026-01-10T13:00:00")


def test_equal_moments_are_ordered_by_id_newest_first(agent_client):
    contact = ContactFactory()
    first = _event(contact, "order.created", START)
    second = _event(contact, "order.updated", START)

    response = agent_client.get(_url(contact.pk))

    assert [row["id"] for row in response.json()["results"]] == [second.pk, first.pk]


def test_kind_filter_takes_exact_kinds_and_prefixes(agent_client):
    # given orders, conversations and a contact change
    contact = ContactFactory()
    _event(contact, "order.created", START)
    _event(contact, "order.delayed", START + timedelta(minutes=1))
    _event(contact, "conversation.opened", START + timedelta(minutes=2))
    _event(contact, "conversation.status_changed", START + timedelta(minutes=3))
    _event(contact, "contact.updated", START + timedelta(minutes=4))

    # when filtered by the order prefix and one exact conversation kind
    response = agent_client.get(_url(contact.pk), {"kind": ["order", "conversation.opened"]})

    # then every order event and only that conversation kind come back
    assert response.status_code == 200
    assert _kinds(response) == ["conversation.opened", "order.delayed", "order.created"]


def test_a_prefix_does_not_match_a_longer_family_name(agent_client):
    # "order" means order.*, not a kind that merely starts with the letters (order_x.*)
    contact = ContactFactory()
    _event(contact, "order.created", START)
    _event(contact, "orderx.created", START)

    response = agent_client.get(_url(contact.pk), {"kind": "order"})

    assert _kinds(response) == ["order.created"]


def test_date_range_includes_since_and_the_whole_until_day(agent_client):
    # given events on three days
    contact = ContactFactory()
    _event(contact, "order.created", datetime(2026, 1, 9, 23, 59, tzinfo=UTC))
    _event(contact, "order.updated", datetime(2026, 1, 10, 0, 0, tzinfo=UTC))
    _event(contact, "order.delayed", datetime(2026, 1, 11, 23, 59, tzinfo=UTC))
    _event(contact, "order.delivered", datetime(2026, 1, 12, 0, 0, tzinfo=UTC))

    # when filtered from the 10th to the 11th (dates alone)
    response = agent_client.get(_url(contact.pk), {"since": "2026-01-10", "until": "2026-01-11"})

    # then both days are in, the days around them are not
    assert _kinds(response) == ["order.delayed", "order.updated"]


def test_date_times_with_offsets_are_accepted(agent_client):
    contact = ContactFactory()
    _event(contact, "order.created", START)
    _event(contact, "order.updated", START + timedelta(hours=1))

    response = agent_client.get(
        _url(contact.pk), {"since": "2026-01-10T12:30:00+01:00", "until": "2026-01-10T13:00:00Z"}
    )

    assert _kinds(response) == ["order.created"]


def _cursor(url: str | None) -> str | None:
    if url is None:
        return None
    return parse_qs(urlparse(url).query)["cursor"][0]


def test_cursor_pages_walk_the_whole_timeline_once(agent_client):
    # given 7 events, two sharing a moment
    contact = ContactFactory()
    made = [_event(contact, "order.updated", START + timedelta(minutes=i)) for i in range(6)]
    made.append(_event(contact, "order.updated", START + timedelta(minutes=5)))
    expected = sorted(made, key=lambda event: (event.occurred_at, event.pk), reverse=True)

    # when read 3 at a time, following the next links
    seen, cursor, pages = [], None, 0
    while True:
        params = {"page_size": 3, **({"cursor": cursor} if cursor else {})}
        body = agent_client.get(_url(contact.pk), params).json()
        seen += [row["id"] for row in body["results"]]
        pages += 1
        cursor = _cursor(body["next"])
        if cursor is None:
            break

    # then every event comes once, in order, over three pages
    assert seen == [event.pk for event in expected]
    assert pages == 3


def test_newer_events_written_between_pages_never_shift_the_next_page(agent_client):
    # given 6 events, of which page 1 (size 3) was read
    contact = ContactFactory()
    original = [_event(contact, "order.updated", START + timedelta(minutes=i)) for i in range(6)]
    first = agent_client.get(_url(contact.pk), {"page_size": 3}).json()

    # when newer events arrive before page 2 is read
    for i in range(4):
        _event(contact, "conversation.opened", START + timedelta(hours=1, minutes=i))
    second = agent_client.get(_url(contact.pk), {"page_size": 3, "cursor": _cursor(first["next"])}).json()

    # then page 2 holds exactly the rest of the original events: none repeated, none skipped
    got = [row["id"] for row in first["results"]] + [row["id"] for row in second["results"]]
    assert got == [event.pk for event in reversed(original)]
    assert second["next"] is None


def test_page_size_is_capped_at_200(agent_client):
    contact = ContactFactory()
    TimelineEvent.objects.bulk_create(
        TimelineEvent(contact=contact, kind="order.updated", occurred_at=START + timedelta(seconds=i))
        for i in range(201)
    )

    response = agent_client.get(_url(contact.pk), {"page_size": 500})

    assert len(response.json()["results"]) == 200
    assert response.json()["next"] is not None


def test_events_link_to_their_order_or_conversation(agent_client):
    # given events about an order, a conversation and the contact itself
    contact = ContactFactory()
    order = OrderFactory(customer=contact)
    events.order_created_event(contact_id=contact.pk, order=order, occurred_at=START, actor="oms")
    events.conversation_opened_event(contact_id=contact.pk, conversation_id=77, channel="chat", subject="",
                                     occurred_at=START + timedelta(minutes=1), actor="contact")
    events.contact_created_event(contact=contact, occurred_at=START + timedelta(minutes=2), actor="oms")

    # when the timeline is read
    rows = agent_client.get(_url(contact.pk)).json()["results"]

    # then each links to its object's API address, and the contact's own event to nothing
    assert [(row["subject_type"], row["link"]) for row in rows] == [
        ("contact", None),
        ("conversation", "/api/v1/conversations/77/"),
        ("order", f"/api/v1/orders/{order.pk}/"),
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-45"}, "until"),
        ({"kind": "nonsense"}, "kind"),
        ({"kind": "Order; drop table"}, "kind"),
        ({"since": "2026-01-11", "until": "2026-01-10"}, "until"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_bad_filters_answer_400_in_the_error_shape(agent_client, params, field):
    contact = ContactFactory()

    response = agent_client.get(_url(contact.pk), params)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["details"]


def test_too_many_kinds_answer_400(agent_client):
    contact = ContactFactory()

    response = agent_client.get(_url(contact.pk), {"kind": ["order"] * 21})

    assert response.status_code == 400
    assert "kind" in response.json()["error"]["details"]


def test_unknown_contact_answers_404(agent_client):
    response = agent_client.get(_url(999_999))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_anonymous_callers_are_refused(api_client):
    contact = ContactFactory()
    _event(contact, "order.created", START)

    response = api_client.get(_url(contact.pk))

    assert response.status_code in (401, 403)
    assert response.json()["error"]["code"] == "not_authenticated"
    assert "results" not in response.json()


def test_the_schema_documents_the_timeline_and_its_filters(agent_client):
    response = agent_client.get("/api/schema/", {"format": "json"})

    operation = response.json()["paths"]["/api/v1/contacts/{id}/timeline/"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"kind", "since", "until", "cursor", "page_size"} <= names
