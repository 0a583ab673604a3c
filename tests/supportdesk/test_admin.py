"""The admin: every registered model's pages open, lists stay cheap, edits go through services."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from conversations import services as conversation_services
from conversations.models import Channel, ConversationStatus, MessageDirection
from integrations.models import OmsEvent, OmsEventStatus
from routing.audit import audit_record, routing_snapshot
from routing.models import RoutingRule
from supportdesk import demo
from supportdesk.demo import demo_chat_ensure
from tests.factories import AgentFactory, ContactFactory, CourierFactory, PartnerFactory
from tests.supportdesk.test_admin_locale import ADMIN_APPS
from timeline import services as timeline_services
from timeline.events import EventKind
from timeline.models import Contact, Order, OrderStatus, OrderStatusChange, TimelineEvent

pytestmark = pytest.mark.django_db

REGISTERED = sorted(admin.site._registry, key=lambda model: model._meta.label)


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _oms_event(event_id: str, status: str, attempts: int = 1) -> OmsEvent:
    return OmsEvent.objects.create(
        event_id=event_id, event_type="order.created", occurred_at=timezone.now(),
        payload={"id": event_id, "type": "order.created", "data": {}}, status=status,
        attempts=attempts, last_error="boom" if status == OmsEventStatus.FAILED else "",
    )


def _survey_answered(conversation) -> None:
    from supportdesk.demo.surveys import demo_surveys_ensure
    from workflows.surveys.models import Survey, SurveyState

    demo_surveys_ensure()
    now = timezone.now()
    Survey.objects.create(conversation=conversation, contact_id=conversation.contact_id, resolution_event_id=1,
                          channel="chat", state=SurveyState.ANSWERED, due_at=now, sent_at=now, score=4,
                          comment="Bien", rated_at=now)


@pytest.fixture
def one_of_each(admin_user):
    """At least one row of every registered model, written the way the desk writes them."""
    now = timezone.now()
    customer = timeline_services.contact_upsert(
        kind="customer", external_id="C7000001", fields={"name": "María García"},
        occurred_at=now,
    )
    courier, partner = CourierFactory(), PartnerFactory()
    timeline_services.order_upsert(
        external_id="O70000011",
        fields={"customer": customer, "courier": courier, "partner": partner,
                "status": OrderStatus.CREATED, "total": Decimal("20.00")},
        occurred_at=now,
    )
    agent = AgentFactory()
    conversation = conversation_services.conversation_open(contact=customer, channel=Channel.CHAT)
    conversation_services.message_create(
        conversation=conversation, direction=MessageDirection.INBOUND, body="Hola"
    )
    conversation_services.message_create(
        conversation=conversation, direction=MessageDirection.OUTBOUND, body="Hi!", author=agent
    )
    _oms_event("evt-1", OmsEventStatus.FAILED)
    # An email received and processed, as the desk's SMTP server and the worker do.
    from integrations.email_inbound import email_inbound_store, inbound_emails_drain

    email_inbound_store(b"From: ana@example.com\r\nTo: support@supportdesk.local\r\nSubject: Hola\r\n"
                        b"Message-ID: <admin-1@example.com>\r\n\r\nHola, <b>equipo</b>\r\n", source="smtp")
    inbound_emails_drain()
    # A WhatsApp post received and applied, as the webhook and the worker do.
    import json

    from integrations.whatsapp.fake_server import inbound_payload
    from integrations.whatsapp.inbound import webhook_receive, whatsapp_drain

    body = json.dumps(inbound_payload(sender="34600111222", name="Lucía", text="Hola")).encode()
    webhook_receive(body=body, signature="sha256=" + hmac.new(settings.WHATSAPP_APP_SECRET.encode(), body,
                                                              hashlib.sha256).hexdigest())
    whatsapp_drain()
    # A voice webhook post received and applied (integrations.voice).
    from integrations.voice.inbound import voice_drain
    from integrations.voice.inbound import webhook_receive as voice_receive

    voice_receive(kind="incoming", path="/integrations/voice/incoming/",
                  params={"CallSid": "CAadmin", "From": "+34600111222", "To": "+34910000000"})
    voice_drain()
    demo_chat_ensure()  # contact reasons and macros, as supervisors keep them
    _survey_answered(conversation)  # survey settings and a rating, as a customer gives one
    Group.objects.create(name="Supervisors")
    Token.objects.create(user=admin_user)
    # Opening the conversation enqueued its work item; rules and their audit come from supervisors.
    rule = RoutingRule.objects.create(name="Everything", queue_key="general")
    # Business hours, as a supervisor keeps them for a queue.
    from datetime import time

    from routing.models import BusinessHours, Holiday, OpeningInterval

    hours = BusinessHours.objects.create(name="Office", time_zone="Europe/Madrid")
    OpeningInterval.objects.create(hours=hours, weekday=0, opens_at=time(9), closes_at=time(18))
    Holiday.objects.create(hours=hours, date=now.date(), name="Today")
    audit_record(actor=admin_user, obj=rule, instance_before=None, instance_after=routing_snapshot(rule))
    # Login throttling's records: a failed login, and a good one, through the desk's login page.
    Client().post(reverse("desk:login"), {"username": "someone", "password": "wrong"})
    Client().post(reverse("desk:login"), {"username": agent.username, "password": "correct horse battery staple"})
    # A segment and a campaign to it, as supervisors make them.
    from workflows.outreach.models import Campaign
    from workflows.segments.models import Segment
    from workflows.segments.services import segment_save

    segment = Segment(name="Everyone Spanish", key="spanish",
                      conditions={"attribute": "contact.language", "op": "eq", "value": "es"})
    segment_save(segment=segment)
    Campaign.objects.create(name="Hello", segment=segment, channel="email",
                            texts={"en": {"subject": "Hi", "body": "Hello {{ contact.name }}"}})
    # A workflow as a supervisor saves it (audited), and a run of it, as the engine starts one.
    from workflows import services as workflow_services
    from workflows.audit import workflow_audit_record, workflow_snapshot
    from workflows.services.runs import run_start
    from workflows.subjects import subject_load

    workflow, version = workflow_services.workflow_save(
        key="tag-late", name="Tag late orders", user=admin_user,
        definition={"trigger": {"type": "event", "kinds": ["order.delayed"]},
                    "steps": [{"action": "add_tags", "params": {"tags": ["late"]}}]})
    workflow_audit_record(actor=admin_user, workflow=workflow, action="created", before=None,
                          after=workflow_snapshot(workflow))
    order = Order.objects.get(external_id="O70000011")
    with transaction.atomic():
        run_start(workflow=workflow, version=version, subject=subject_load(customer.pk, "order", order.pk),
                  trigger={"event": "order.delayed"}, chain=[])
    # A help-center article in a category, one language's version saved by a supervisor (audited).
    from helpcenter.models import Article, ArticleVersion, Category, CategoryName
    from helpcenter.services import article_version_save

    category = Category.objects.create(slug="orders", position=0)
    CategoryName.objects.create(category=category, language="en", name="Orders")
    article = Article.objects.create(key="where", category=category, position=0)
    article_version_save(version=ArticleVersion(article=article, language="en", slug="where-is-my-order",
                                                title="Where is my order?", body="Track it **here**."),
                         actor=admin_user)


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label)
def test_every_admin_page_opens(admin_client, admin_user, one_of_each, model):
    model_admin = admin.site._registry[model]
    request = RequestFactory().get("/")
    request.user = admin_user

    assert admin_client.get(_url(model, "changelist")).status_code == 200

    add = admin_client.get(_url(model, "add"))
    assert add.status_code == (200 if model_admin.has_add_permission(request) else 403)

    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"the fixture makes no {model._meta.label}"
    assert admin_client.get(_url(model, "change", obj.pk)).status_code == 200


class _PageLabels(HTMLParser):
    """The words an admin page labels things with: its title and headings (fieldsets, inlines,
    filters), column headers, form labels, help texts, the actions' menu and the object tools;
    not the rows' data."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: set[str] = set()
        self._open: list[tuple[str, bool]] = []  # (tag, whether its text is a label)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        inherited = self._open[-1][1] if self._open else False
        parents = {name for name, _label in self._open}
        if "inline_label" in classes or tag in ("td", "textarea", "pre"):
            labelling = False  # an inline row's object, a cell, a value: data
        else:
            labelling = (inherited or tag in ("h1", "h2", "h3", "label") or "help" in classes
                         or (tag == "th" and "thead" in parents) or "object-tools" in classes
                         or (tag == "select" and attributes.get("name") == "action"))
        self._open.append((tag, labelling))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1][1] and (text := data.strip()) and any(char.isalpha() for char in text):
            self.found.add(text)


# Labels the same in Spanish: a code (ID, SLA, HTML), a loanword the desk's Spanish keeps.
SAME_IN_SPANISH = {"ID", "ID:", "Id", "#", "Slug:", "Slug", "Html:", "Html", "Total:", "Total", "Error:", "Error",
                   "Macro:", "Macro", "Normal", "Variables: {{ contact.name }}"}


def _page_labels(client, url: str, language: str) -> set[str]:
    if language == "en":
        client.cookies.pop(settings.DESK_LANGUAGE_COOKIE, None)
    else:
        client.cookies[settings.DESK_LANGUAGE_COOKIE] = language
    response = client.get(url)
    assert response.status_code == 200, url
    parser = _PageLabels()
    parser.feed(response.content.decode())
    return parser.found


@pytest.mark.parametrize("model", [model for model in REGISTERED if model._meta.app_label in ADMIN_APPS
                                   or model is get_user_model()], ids=lambda model: model._meta.label)
def test_every_admin_page_of_the_desk_is_spanish_for_a_spanish_supervisor(admin_client, admin_user, one_of_each,
                                                                          model):
    """The list, the add form and an object's page, in English and then with the desk's language
    set to Spanish: no label the English page shows is left as it was (issue 15)."""
    request = RequestFactory().get("/")
    request.user = admin_user
    obj = model._default_manager.order_by("pk").first()
    urls = [_url(model, "changelist"), _url(model, "change", obj.pk)]
    if admin.site._registry[model].has_add_permission(request):
        urls.append(_url(model, "add"))

    english_left = {}
    for url in urls:
        english = _page_labels(admin_client, url, "en")
        spanish = _page_labels(admin_client, url, "es")
        # The object's page is titled with the object (a ContactReason's label, a message's number).
        if left := sorted((english & spanish) - SAME_IN_SPANISH - {str(obj)}):
            english_left[url] = left

    assert english_left == {}


def test_changelists_do_not_query_per_row(admin_client):
    demo.demo_seed(contacts=60)

    for model in REGISTERED:
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(_url(model, "changelist"))
        assert response.status_code == 200
        # Sessions, user, counts and the page itself: a handful whatever the rows shown.
        assert len(queries) <= 12, (model._meta.label, [q["sql"] for q in queries])
    assert Order.objects.count() > 100  # more rows than queries, so a per-row query would show


def test_the_append_only_timeline_is_read_only_in_the_admin(admin_client, one_of_each):
    event = TimelineEvent.objects.first()

    assert admin_client.get(_url(TimelineEvent, "add")).status_code == 403
    assert admin_client.post(_url(TimelineEvent, "change", event.pk), {}).status_code == 403
    assert admin_client.post(_url(TimelineEvent, "delete", event.pk),
                             {"post": "yes"}).status_code == 403
    assert TimelineEvent.objects.filter(pk=event.pk).exists()


def test_contact_search_finds_by_name_part_and_exact_external_id(admin_client):
    maria = ContactFactory(name="María García", external_id="C7000002")
    ContactFactory(name="John Smith", external_id="C7000003")

    def found(term: str) -> list[str]:
        response = admin_client.get(_url(Contact, "changelist"), {"q": term})
        assert response.status_code == 200
        return [contact.external_id for contact in response.context["cl"].result_list]

    assert found("garcía") == [maria.external_id]
    assert found("C7000002") == [maria.external_id]
    assert found("nobody-like-this") == []


def test_retry_action_requeues_only_failed_events(admin_client, django_capture_on_commit_callbacks):
    failed = _oms_event("evt-failed", OmsEventStatus.FAILED, attempts=5)
    processed = _oms_event("evt-done", OmsEventStatus.PROCESSED)

    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            _url(OmsEvent, "changelist"),
            {"action": "retry_failed", "_selected_action": [failed.pk, processed.pk]},
            follow=True,
        )

    assert response.status_code == 200
    failed.refresh_from_db()
    processed.refresh_from_db()
    assert (failed.status, failed.attempts) == (OmsEventStatus.PENDING, 0)
    assert (processed.status, processed.attempts) == (OmsEventStatus.PROCESSED, 1)
    assert len(callbacks) == 1  # a drain is requested once the change commits
    text = response.content.decode()
    assert "1 event queued" in text
    assert "1 skipped" in text


def test_order_edit_goes_through_the_service(admin_client, admin_user, one_of_each):
    order = Order.objects.get(external_id="O70000011")
    form = {
        "status": OrderStatus.CANCELLED, "customer": order.customer_id,
        "courier": order.courier_id, "partner": order.partner_id, "total": "20.00",
        "currency": "EUR", "items": "[]", "placed_at_0": "", "placed_at_1": "",
        "promised_at_0": "", "promised_at_1": "", "delivered_at_0": "", "delivered_at_1": "",
        "cancelled_at_0": "", "cancelled_at_1": "", "delay_minutes": "0", "delay_reason": "",
        "status_history-TOTAL_FORMS": "1", "status_history-INITIAL_FORMS": "1",
        "status_history-MIN_NUM_FORMS": "0", "status_history-MAX_NUM_FORMS": "1000",
    }

    response = admin_client.post(_url(Order, "change", order.pk), form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    customer = Contact.objects.get(pk=order.customer_id)
    assert (customer.lifetime_order_value, customer.order_count) == (Decimal("0.00"), 0)
    assert list(OrderStatusChange.objects.filter(order=order).values_list("status", flat=True)
                ) == [OrderStatus.CREATED, OrderStatus.CANCELLED]
    cancelled = TimelineEvent.objects.get(kind=EventKind.ORDER_CANCELLED)
    assert cancelled.actor == f"user:{admin_user.pk}"


def test_conversation_status_change_is_recorded_on_the_timeline(admin_client, admin_user,
                                                                one_of_each):
    conversation = Contact.objects.get(external_id="C7000001").conversations.get()
    form = {"status": ConversationStatus.RESOLVED, "priority": conversation.priority,
            "language": "es", "contact_reason": "late_order", "subject": "Late",
            "assignee": "", "messages-TOTAL_FORMS": "2", "messages-INITIAL_FORMS": "2",
            "messages-MIN_NUM_FORMS": "0", "messages-MAX_NUM_FORMS": "1000"}

    response = admin_client.post(_url(type(conversation), "change", conversation.pk), form)

    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.RESOLVED
    assert conversation.resolved_at is not None
    assert conversation.last_message_sequence == 2
    event = TimelineEvent.objects.get(kind=EventKind.CONVERSATION_STATUS_CHANGED)
    assert event.payload == {"status": "resolved"}
    assert event.actor == f"user:{admin_user.pk}"


def test_contact_added_in_the_admin_is_on_its_timeline(admin_client, admin_user):
    form = {"kind": "courier", "external_id": "R7000001", "name": "Ana Ruiz", "email": "",
            "phone": "", "preferred_language": "es", "country": "ES", "tags": "",
            "attributes": "{}", "tier": "", "credit_balance": "0.00", "vehicle": "bicycle",
            "courier_status": "idle", "current_order": "", "store_name": "",
            "store_category": ""}

    response = admin_client.post(_url(Contact, "add"), form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    contact = Contact.objects.get(kind="courier", external_id="R7000001")
    assert (contact.name, contact.vehicle) == ("Ana Ruiz", "bicycle")
    assert "vehicle" in contact.field_versions
    created = TimelineEvent.objects.get(contact=contact)
    assert (created.kind, created.actor) == (EventKind.CONTACT_CREATED, f"user:{admin_user.pk}")
    # Not a minute in the future: the admin's time is the edit's time.
    assert created.occurred_at <= timezone.now() + timedelta(seconds=1)
