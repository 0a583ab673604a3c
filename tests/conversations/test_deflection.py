"""Self-service deflection (conversations.deflection), from hand-built histories: a session that
got an answer and no conversation within 24 hours is deflected; a conversation within 24 hours
follows it (and carries what was read); retries record once."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from conversations import deflection, services, widget
from conversations.models import Conversation, SelfServiceAnswer, SelfServiceSession
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def _answer(session: widget.Session, ref: str = "1", *, hours_ago: float = 0.0,
            kind: str = deflection.ARTICLE_READ, **details):
    return deflection.deflection_answered(session, kind, ref, at=NOW - timedelta(hours=hours_ago),
                                          title=details.pop("title", f"Article {ref}"), language="es", **details)


def _opened(contact, *, hours_ago: float) -> Conversation:
    """A conversation from the contact, opened `hours_ago` (created_at is set on insert: the
    open is replayed at that moment by moving the clock)."""
    conversation = services.conversation_open(contact=contact, channel="email", subject="Hola")
    opened_at = NOW - timedelta(hours=hours_ago)
    Conversation.objects.filter(pk=conversation.pk).update(created_at=opened_at)
    # What conversation_open did at commit time, as it would have at `opened_at`:
    SelfServiceSession.objects.filter(conversation=conversation).update(conversation=None, followed_at=None)
    conversation.created_at = opened_at
    deflection.deflection_follow(conversation=conversation)
    return conversation


def _outcome(session: SelfServiceSession) -> str:
    session.refresh_from_db()
    return deflection.deflection_outcome(answered_at=session.answered_at, followed_at=session.followed_at, now=NOW)


def test_the_outcome_rule_over_plain_values():
    answered = NOW - timedelta(hours=30)

    assert deflection.deflection_outcome(answered_at=answered, followed_at=None, now=NOW) == deflection.DEFLECTED
    assert deflection.deflection_outcome(answered_at=NOW - timedelta(hours=23), followed_at=None,
                                         now=NOW) == deflection.OPEN
    assert deflection.deflection_outcome(answered_at=answered, followed_at=answered + timedelta(hours=2),
                                         now=NOW) == deflection.FOLLOWED
    # Exactly 24 hours on: settled as deflected.
    assert deflection.deflection_outcome(answered_at=NOW - deflection.WINDOW, followed_at=None,
                                         now=NOW) == deflection.DEFLECTED


def test_an_answer_and_no_conversation_within_24_hours_is_deflected():
    contact = ContactFactory()
    session = _answer(widget.Session(contact_id=contact.pk), hours_ago=30)
    _opened(contact, hours_ago=2)  # 28 hours after the answer: too late to count against it

    assert _outcome(session) == deflection.DEFLECTED
    assert session.conversation_id is None


def test_a_conversation_within_24_hours_follows_the_session_and_carries_what_was_read():
    contact = ContactFactory()
    session = _answer(widget.Session(contact_id=contact.pk), "7", hours_ago=10, title="¿Dónde está mi pedido?",
                      url="/help/es/orders/donde/", query="dónde está mi pedido")
    conversation = _opened(contact, hours_ago=1)

    assert _outcome(session) == deflection.FOLLOWED
    assert session.conversation_id == conversation.pk
    assert [(answer.title, answer.url, answer.query) for answer in
            deflection.answers_before(conversation_id=conversation.pk)] == [
        ("¿Dónde está mi pedido?", "/help/es/orders/donde/", "dónde está mi pedido")]


def test_a_session_still_within_its_24_hours_is_open_until_the_clock_settles_it():
    contact = ContactFactory()
    session = _answer(widget.Session(contact_id=contact.pk), hours_ago=3)

    assert _outcome(session) == deflection.OPEN
    assert deflection.deflection_outcome(answered_at=session.answered_at, followed_at=None,
                                         now=NOW + timedelta(hours=21)) == deflection.DEFLECTED


def test_a_conversation_opened_before_the_answer_does_not_follow_it():
    contact = ContactFactory()
    conversation = services.conversation_open(contact=contact, channel="email", subject="Antes")
    conversation.created_at = NOW - timedelta(hours=5)
    session = _answer(widget.Session(contact_id=contact.pk), hours_ago=1)
    deflection.deflection_follow(conversation=conversation)  # replayed: it opened 4 hours before the answer

    assert _outcome(session) == deflection.OPEN


def test_the_same_answer_again_records_nothing_more():
    session = widget.Session(contact_id=ContactFactory().pk)

    first = _answer(session, "3", hours_ago=1)
    again = _answer(session, "3", hours_ago=1)

    assert again.pk == first.pk
    assert SelfServiceAnswer.objects.count() == 1
    assert SelfServiceSession.objects.count() == 1


def test_answers_close_together_are_one_session_and_far_apart_two_and_a_conversation_follows_both():
    contact = ContactFactory()
    visitor = widget.Session(contact_id=contact.pk)
    early = _answer(visitor, "1", hours_ago=5)
    joined = _answer(visitor, "2", hours_ago=4.8)  # 12 minutes later: the same session
    _answer(visitor, "1", hours_ago=4.8, kind=deflection.ARTICLE_ANSWERED)
    later = _answer(visitor, "3", hours_ago=2)  # hours later: a session of its own

    assert joined.pk == early.pk != later.pk
    early.refresh_from_db()
    assert early.started_at == NOW - timedelta(hours=5)
    assert early.answered_at == NOW - timedelta(hours=4.8)
    assert early.answers.count() == 3

    conversation = _opened(contact, hours_ago=0.5)

    assert {_outcome(early), _outcome(later)} == {deflection.FOLLOWED}
    answers = deflection.answers_before(conversation_id=conversation.pk)
    assert [answer.ref for answer in answers] == ["1", "2", "1", "3"]


def test_an_anonymous_visitor_who_then_writes_in_carries_what_they_read():
    visitor = widget.Session(visitor="ab12cd34ef56ab12cd34ef56ab12cd34")
    session = _answer(visitor, "9", title="Reembolsos")
    assert session.contact_id is None

    message = services.visitor_message_send(session=visitor, body="Quiero un reembolso", client_id="c-1")

    session.refresh_from_db()
    assert session.conversation_id == message.conversation_id
    assert session.contact_id == message.conversation.contact_id
    assert [answer.title for answer in deflection.answers_before(conversation_id=message.conversation_id)] == [
        "Reembolsos"]


def test_an_answer_while_a_chat_is_going_is_not_self_service():
    visitor = widget.Session(visitor="0123456789abcdef0123456789abcdef")
    services.visitor_message_send(session=visitor, body="Hola", client_id="c-2")

    assert deflection.deflection_answered(visitor, deflection.ARTICLE_READ, "4", title="x") is None
    assert SelfServiceSession.objects.count() == 0


def test_an_answer_needs_a_kind_and_a_reference():
    visitor = widget.Session(visitor="0123456789abcdef0123456789abcdef")

    with pytest.raises(ValueError):
        deflection.deflection_answered(visitor, "", "1")
    with pytest.raises(ValueError):
        deflection.deflection_answered(visitor, deflection.ARTICLE_READ, "x" * 65)


def test_the_reports_query_settles_each_session_as_the_rule_does():
    """The reports' SQL (reports.self_service) is the rule's twin: random histories, the same counts."""
    from reports.self_service import _SQL, deflection_figures

    rng = random.Random(15)
    expected = {deflection.FOLLOWED: 0, deflection.DEFLECTED: 0, deflection.OPEN: 0}
    for _ in range(40):
        contact = ContactFactory()
        answered_hours_ago = rng.uniform(0, 60)
        session = _answer(widget.Session(contact_id=contact.pk), hours_ago=answered_hours_ago)
        if rng.random() < 0.5:  # a conversation some hours after the answer, perhaps too late
            opened = answered_hours_ago - rng.uniform(0, 30)
            if opened > 0:
                _opened(contact, hours_ago=opened)
        expected[_outcome(session)] += 1

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(_SQL, [NOW - deflection.WINDOW, NOW - timedelta(days=5), NOW + timedelta(seconds=1)])
        figures = deflection_figures(*cursor.fetchone())

    assert (figures["followed"], figures["deflected"], figures["open"]) == (
        expected[deflection.FOLLOWED], expected[deflection.DEFLECTED], expected[deflection.OPEN])
    assert figures["answered"] == 40


def test_the_agent_sees_what_was_read_before_asking_with_links_and_as_text(client):
    from routing.models import WorkItem
    from tests.scenarios import online_agent

    profile = online_agent()
    contact = ContactFactory(preferred_language="es")
    visitor = widget.Session(contact_id=contact.pk)
    deflection.deflection_answered(visitor, deflection.ARTICLE_READ, "5", title="<b>¿Dónde está?</b>",
                                   url="/help/es/orders/donde/", language="es", query="mi pedido <no> llega")
    deflection.deflection_answered(visitor, deflection.ARTICLE_ANSWERED, "5", title="<b>¿Dónde está?</b>",
                                   url="/help/es/orders/donde/", language="es")
    conversation = services.conversation_open(contact=contact, channel="chat")
    services.offer_accept(item_id=WorkItem.objects.get(conversation_id=conversation.pk).pk, user=profile.user)
    client.force_login(profile.user)

    page = client.get(f"/desk/c/{conversation.pk}/").content.decode()
    partial = client.get(f"/desk/conversations/{conversation.pk}/", HTTP_HX_REQUEST="true").content.decode()

    for html in (page, partial):
        assert 'data-testid="read-before"' in html
        assert html.count('data-testid="read-before-item"') == 1  # read and "answered": one line
        assert ('Read before asking: <a href="/help/es/orders/donde/" target="_blank" rel="noopener">'
                "&lt;b&gt;¿Dónde está?&lt;/b&gt;</a>") in html
        assert 'data-testid="read-before-answered"' in html
        assert "“mi pedido &lt;no&gt; llega”" in html


def test_a_conversation_with_nothing_read_shows_no_such_section(client):
    from tests.scenarios import conversation_assigned, online_agent

    profile = online_agent()
    conversation = conversation_assigned(profile)
    client.force_login(profile.user)

    assert 'data-testid="read-before"' not in client.get(f"/desk/c/{conversation.pk}/").content.decode()
