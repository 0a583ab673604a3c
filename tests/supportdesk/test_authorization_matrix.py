"""The authorisation matrix (STYLE #15): every entry point, every role, one expected answer.

The rows are checked against the real URL conf (`get_resolver()`, router routes included)
and the websocket routes: a URL pattern or socket route without a row fails the build
("new endpoint without an entry"), and so does a row whose endpoint is gone. The admin is
covered by one row (Django's own staff rule decides there).

Every request runs against real objects: a conversation assigned to the agent (someone
else's for the other agent), an offer made to the agent, a contact with an order. Each
role's request runs in a savepoint rolled back afterwards, so one role's write never
changes the next role's answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.authtoken.models import Token

from conversations import services, widget
from conversations.models import ContactReason
from routing.models import WorkItem
from supportdesk.routing import websocket_urlpatterns
from tests.factories import (
    AgentFactory,
    ContactFactory,
    IntegrationFactory,
    OrderFactory,
    SupervisorFactory,
    UserFactory,
)
from tests.scenarios import conversation_assigned, conversation_offered, online_agent
from tests.sockets import agent_communicator


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Seven accounts per world: Django's real hasher would spend seconds on passwords nobody types.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


ROLES = ("anonymous", "visitor", "agent", "other_agent", "supervisor", "staff", "no_profile", "integration")


@dataclass
class World:
    users: dict[str, Any]
    conversation: int  # assigned to "agent"
    offer: int  # a work item offered to "agent"
    item: int  # the assigned conversation's work item
    contact: int
    other_contact: int
    order: int
    visitor_token: str
    tokens: dict[str, str] = field(default_factory=dict)
    rating: int = 0  # the agent's conversation's answered survey


def world_build() -> World:
    agent = online_agent(AgentFactory())
    conversation = conversation_assigned(agent)
    _offered, offer = conversation_offered(agent)
    other_agent = AgentFactory()  # an agent too, offline, holding none of the above
    integration = IntegrationFactory()
    ContactReason.objects.create(key="late_order", label="Late order")
    contact_id = conversation.contact_id
    return World(
        users={"agent": agent.user, "other_agent": other_agent, "supervisor": SupervisorFactory(),
               "staff": UserFactory(is_staff=True), "no_profile": UserFactory(), "integration": integration},
        conversation=conversation.pk, offer=offer.pk,
        item=WorkItem.objects.get(conversation_id=conversation.pk).pk,
        contact=contact_id, other_contact=ContactFactory().pk,
        order=OrderFactory(customer_id=contact_id).pk,
        visitor_token=widget.session_encode(services.visitor_session_start()),
        tokens={"integration": Token.objects.create(user=integration).key},
        rating=_rating_of(conversation, agent=agent.user),
    )


def _rating_of(conversation: Any, *, agent: Any) -> int:
    from django.utils import timezone

    from workflows.surveys.models import Survey, SurveyState

    now = timezone.now()
    return Survey.objects.create(
        conversation=conversation, contact_id=conversation.contact_id, resolution_event_id=1, channel="chat",
        agent=agent, state=SurveyState.ANSWERED, due_at=now, sent_at=now, score=4, rated_at=now).pk


def client_for(world: World, role: str) -> Client:
    """How each role calls: a browser session for people, the integration's token (and its
    login, had it tried the desk); the visitor has only its widget token, no desk cookie."""
    client = Client()
    user = world.users.get(role)
    if user is not None:
        client.force_login(user)
    if role in world.tokens:
        client.defaults["HTTP_AUTHORIZATION"] = f"Token {world.tokens[role]}"
    return client


# --- the table ----------------------------------------------------------------------------------

Answer = int | tuple[int, ...]


def answers(anonymous: Answer, visitor: Answer, agent: Answer, other_agent: Answer, supervisor: Answer,
            staff: Answer, no_profile: Answer, integration: Answer) -> dict[str, Answer]:
    return dict(zip(ROLES, (anonymous, visitor, agent, other_agent, supervisor, staff, no_profile,
                            integration), strict=True))


def same(status: Answer) -> dict[str, Answer]:
    return dict.fromkeys(ROLES, status)


# Who may use the desk: strangers are sent to log in, accounts that are neither agent nor
# supervisor (staff, no profile, integrations) are refused.
DESK_LIST = answers(302, 302, 200, 200, 200, 403, 403, 403)
DESK_OBJECT = answers(302, 302, 200, 404, 200, 403, 403, 403)  # the agent's conversation
DESK_CONTACT = answers(302, 302, 200, 200, 200, 403, 403, 403)  # every agent sees contacts
# The REST API: 401 without credentials, 403 for a role the endpoint is not for, 404 for an
# object that is not yours (the same as for one that does not exist).
# Supervisors' desk pages: agents are refused (403) like every account that is not a supervisor.
DESK_SUPERVISOR = answers(302, 302, 403, 403, 200, 403, 403, 403)
DESK_SUPERVISOR_POST = answers(302, 302, 403, 403, 302, 403, 403, 403)  # done, then redirected
API_DESK = answers(401, 401, 200, 200, 200, 403, 403, 403)
DESK_REPORTS = answers(302, 302, 200, 200, 200, 403, 403, 403)  # agents see their own figures
API_DESK_OR_INTEGRATION = answers(401, 401, 200, 200, 200, 403, 403, 200)
API_SUPERVISOR = answers(401, 401, 403, 403, 200, 403, 403, 403)
API_AGENT = answers(401, 401, 200, 200, 403, 403, 403, 403)


@dataclass(frozen=True)
class Row:
    url: Callable[[World], str]
    methods: dict[str, dict[str, Answer]]
    body: Callable[[World], dict[str, Any]] = lambda world: {}
    json: bool = False  # the API takes JSON bodies; desk forms are form-encoded


def _desk(name: str, **kwargs: Callable[[World], int]) -> Callable[[World], str]:
    return lambda world: reverse(name, kwargs={key: value(world) for key, value in kwargs.items()})


def _mailbox_message() -> int:
    from integrations.mail_sink import mailbox_store

    return mailbox_store(mail_from="desk@example.com", recipients=["ana@example.com"],
                         raw=b"Message-ID: <matrix@example.com>\r\nSubject: Sorry\r\n\r\nLate.\r\n").pk


def _attachment_url(world: World) -> str:
    """The agent's conversation, as an email with a file: a message whose attachment is kept raw."""
    from conversations.models import Conversation
    from integrations.models import InboundEmail

    raw = (b"From: ana@example.com\r\nMessage-ID: <matrix-file@example.com>\r\nMIME-Version: 1.0\r\n"
           b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
           b"--B\r\nContent-Type: text/plain\r\n\r\nSee file\r\n"
           b"--B\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n"
           b"\r\n%PDF\r\n"
           b"--B--\r\n")
    inbound = InboundEmail.objects.create(key="matrix", source="smtp", raw=raw, size=len(raw),
                                          conversation_id=world.conversation)
    Conversation.objects.filter(pk=world.conversation).update(channel="email")
    message = services.message_create(
        conversation=Conversation.objects.get(pk=world.conversation), direction="in", body="See file",
        channel_metadata={"email": {"inbound_email_id": inbound.pk},
                          "attachments": [{"name": "a.pdf", "type": "application/pdf", "size": 4}]})
    return reverse("desk:message_attachment", args=[world.conversation, message.sequence, 0])


def _call_url(name: str) -> Callable[[World], str]:
    """The agent's conversation with a call of theirs in progress (the call panel's buttons)."""

    def url(world: World) -> str:
        from conversations.models import Call

        Call.objects.create(conversation_id=world.conversation, direction="in", status="in_progress",
                            provider_call_id=f"CA-matrix-{name}", agent=world.users["agent"])
        return reverse(name, args=[world.conversation])

    return url


def _help_article(world: World) -> str:
    """A published Spanish article (made once per world), its address."""
    from helpcenter.models import Article, ArticleVersion, Category, CategoryName
    from helpcenter.services import article_version_save

    category, created = Category.objects.get_or_create(slug="pedidos")
    if created:
        CategoryName.objects.create(category=category, language="es", name="Pedidos")
        article = Article.objects.create(key="donde", category=category)
        article_version_save(version=ArticleVersion(article=article, language="es", slug="donde", title="¿Dónde?",
                                                    body="Tu pedido.", status="published"))
    return "/help/es/pedidos/donde/"


def _help_version(world: World) -> int:
    from helpcenter.models import ArticleVersion

    _help_article(world)
    return ArticleVersion.objects.get(language="es", slug="donde").pk


def _query(url: Callable[[World], str], query: str) -> Callable[[World], str]:
    return lambda world: f"{url(world)}?{query}"


CONVERSATION = {"conversation_id": lambda world: world.conversation}
CONTACT = {"contact_id": lambda world: world.contact}
OFFER = {"item_id": lambda world: world.offer}
ORDER = {"order_id": lambda world: world.order}
AGENT = {"user_id": lambda world: world.users["agent"].pk}

MATRIX: dict[str, Row] = {
    "home": Row(_desk("home"), {"get": same(200)}),
    "healthz": Row(_desk("healthz"), {"get": same(200)}),
    # Ready or not depends on the servers (and, with workers, their heartbeats), never on who asks.
    "readyz": Row(_desk("readyz"), {"get": same((200, 503))}),
    # /metrics is for a scraper, not a role: an allowed network (the test client's 127.0.0.1 is,
    # by default) or the METRICS_TOKEN bearer token; another Authorization (the integration's
    # API token) is refused even from there. tests/reports/test_metrics.py covers the rest.
    "metrics": Row(_desk("metrics"), {"get": answers(200, 200, 200, 200, 200, 200, 200, 403)}),
    # Reports: agents and supervisors; an agent's answer holds only their own agent figures
    # (tests/reports/test_reports_api.py checks what each sees).
    "reports-overview-api": Row(_desk("reports-overview-api"), {"get": API_DESK}),
    "reports-conversations-api": Row(_query(_desk("reports-conversations-api"), "metric=created"),
                                     {"get": API_DESK}),
    # The page is a frame for every desk user; the reports API decides what figures each one sees.
    "reports-overview": Row(_desk("reports-overview"), {"get": DESK_REPORTS}),
    "reports-conversations": Row(_query(_desk("reports-conversations"), "metric=created"), {"get": DESK_REPORTS}),
    "reports-export": Row(_query(_desk("reports-export"), "table=queue&format=csv"), {"get": DESK_REPORTS}),
    "desk-live": Row(_desk("desk-live"), {"get": answers(302, 302, 403, 403, 200, 403, 403, 403)}),
    "desk:workspace": Row(_desk("desk:workspace"), {"get": DESK_LIST}),
    # Signed-in people are sent on to the workspace; the form itself is for everyone.
    "desk:login": Row(_desk("desk:login"), {"get": answers(200, 200, 302, 302, 302, 302, 302, 302),
                                             "post": answers(200, 200, 302, 302, 302, 302, 302, 302)},
                      body=lambda world: {"username": "nobody", "password": "wrong"}),
    "desk:logout": Row(_desk("desk:logout"), {"post": same(302)}),
    "desk:presence": Row(_desk("desk:presence"), {"post": answers(302, 302, 200, 200, 400, 403, 403, 403)},
                         body=lambda world: {"presence": "online"}),
    # The desk's language for this browser: set, then back to the workspace.
    "desk:language": Row(_desk("desk:language"), {"post": answers(302, 302, 302, 302, 302, 403, 403, 403)},
                         body=lambda world: {"language": "es"}),
    "desk:offers": Row(_desk("desk:offers"), {"get": DESK_LIST}),
    # A supervisor without an agent profile takes no offers (400 not_an_agent).
    "desk:offer_accept": Row(_desk("desk:offer_accept", **OFFER),
                             {"post": answers(302, 302, 200, 404, 400, 403, 403, 403)}),
    "desk:offer_decline": Row(_desk("desk:offer_decline", **OFFER),
                              {"post": answers(302, 302, 200, 404, 400, 403, 403, 403)}),
    "desk:conversation_list": Row(_desk("desk:conversation_list"), {"get": DESK_LIST}),
    "desk:conversation_page": Row(_desk("desk:conversation_page", **CONVERSATION), {"get": DESK_OBJECT}),
    "desk:conversation": Row(_desk("desk:conversation", **CONVERSATION), {"get": DESK_OBJECT}),
    "desk:contact": Row(_desk("desk:contact", **CONVERSATION), {"get": DESK_OBJECT}),
    "desk:message_attachment": Row(_attachment_url, {"get": DESK_OBJECT}),
    "desk:message_send": Row(_desk("desk:message_send", **CONVERSATION),
                             {"post": answers(302, 302, 201, 404, 201, 403, 403, 403)},
                             body=lambda world: {"body": "Hello"}),
    # The open conversation's suggested replies, as the conversation itself.
    "desk:suggestions": Row(_desk("desk:suggestions", **CONVERSATION), {"get": DESK_OBJECT}),
    "desk:call_panel": Row(_desk("desk:call_panel", **CONVERSATION), {"get": DESK_OBJECT}),
    "desk:call_hold": Row(_call_url("desk:call_hold"), {"post": DESK_OBJECT}),
    "desk:call_resume": Row(_call_url("desk:call_resume"), {"post": DESK_OBJECT}),
    "desk:call_hangup": Row(_call_url("desk:call_hangup"), {"post": DESK_OBJECT}),
    "desk:transfer": Row(_desk("desk:transfer", **CONVERSATION), {"post": DESK_OBJECT},
                         body=lambda world: {"target": "queue:general"}),
    "desk:resolve": Row(_desk("desk:resolve", **CONVERSATION), {"post": DESK_OBJECT},
                        body=lambda world: {"contact_reason": "late_order"}),
    "desk:contacts": Row(_desk("desk:contacts"), {"get": DESK_CONTACT}),
    "desk:contact_page": Row(_desk("desk:contact_page", **CONTACT), {"get": DESK_CONTACT}),
    "desk:contact_timeline_panel": Row(_desk("desk:contact_timeline_panel", **CONTACT), {"get": DESK_CONTACT}),
    "desk:order_page": Row(_desk("desk:order_page", **ORDER), {"get": DESK_CONTACT}),
    "desk:supervise": Row(_desk("desk:supervise"), {"get": DESK_SUPERVISOR}),
    "desk:supervise_conversation": Row(_desk("desk:supervise_conversation", **CONVERSATION),
                                       {"get": DESK_SUPERVISOR}),
    "desk:supervise_whisper": Row(_desk("desk:supervise_whisper", **CONVERSATION),
                                  {"post": DESK_SUPERVISOR_POST}, body=lambda world: {"body": "Offer a coupon"}),
    # The world's supervisor has no agent profile: nothing to assign to (400 not_an_agent).
    "desk:supervise_take_over": Row(_desk("desk:supervise_take_over", **CONVERSATION),
                                    {"post": answers(302, 302, 403, 403, 400, 403, 403, 403)}),
    "desk:supervise_agents": Row(_desk("desk:supervise_agents"), {"get": DESK_SUPERVISOR}),
    "desk:supervise_agent_presence": Row(_desk("desk:supervise_agent_presence", **AGENT),
                                         {"post": DESK_SUPERVISOR_POST}, body=lambda world: {"presence": "away"}),
    # The local SMTP sink's mailbox (integrations.access): supervisors only.
    "mailbox:list": Row(_desk("mailbox:list"), {"get": DESK_SUPERVISOR}),
    "mailbox:message": Row(lambda world: reverse("mailbox:message", args=[_mailbox_message()]),
                           {"get": DESK_SUPERVISOR}),
    # Proactive calls (seed 002): the panel and its send (the world's chat has no contact reason
    # enabled for calls: refused, 409, for whoever may act on it), the contact reason set without
    # resolving, the supervisors' counts, and the customer's page, where the signed link is the access.
    "desk:call_invitation": Row(_desk("desk:call_invitation", **CONVERSATION), {
        "get": DESK_OBJECT, "post": answers(302, 302, 409, 404, 409, 403, 403, 403)},
        body=lambda world: {"client_id": "matrix-invite"}),
    "desk:contact_reason_set": Row(_desk("desk:contact_reason_set", **CONVERSATION), {"post": DESK_OBJECT},
                                   body=lambda world: {"contact_reason": "late_order"}),
    "desk:supervise_call_invitations": Row(_desk("desk:supervise_call_invitations"), {"get": DESK_SUPERVISOR}),
    # How well the suggested replies do (conversations.access.check_supervisor).
    "desk:supervise_suggestions": Row(_desk("desk:supervise_suggestions"), {"get": DESK_SUPERVISOR}),
    "call-invitation": Row(lambda world: reverse("call-invitation", kwargs={"token": "forged:link"}),
                           {"get": same(400), "post": same(400)}, body=lambda world: {"choice": "call"}),
    # The reports' pages (reports.access): supervisors only, as the live view.
    "reports-staffing": Row(lambda world: reverse("reports-staffing") + "?queue=general",
                            {"get": DESK_SUPERVISOR}),
    # The public help center (helpcenter.access): published articles for everyone (drafts and
    # unknown addresses 404 alike, tests/helpcenter/test_pages.py); answering "Was this helpful?"
    # is for everyone too, once per session, then back to the article (303).
    "help-root": Row(lambda world: "/help/", {"get": same(302)}),
    "help-home": Row(lambda world: "/help/es/", {"get": same(200)}),
    "help-search": Row(lambda world: "/help/es/search/?q=pedido", {"get": same(200)}),
    "help-category": Row(lambda world: _help_article(world).rsplit("/", 2)[0] + "/", {"get": same(200)}),
    "help-article": Row(_help_article, {"get": same(200)}),
    "help-article-helpful": Row(lambda world: _help_article(world) + "helpful/", {"post": same(303)},
                                body=lambda world: {"helpful": "yes"}),
    # The widget's suggestions and reader (helpcenter.widget_views): published articles for
    # everyone; recording a read is for the holder of the visitor's session token, whoever the
    # caller's cookies say they are (a forged token: 401, tests/helpcenter/test_widget_articles.py).
    "help-widget-suggest": Row(lambda world: "/help/api/suggest/?q=pedido&lang=es", {"get": same(200)}),
    "help-widget-article": Row(lambda world: f"/help/api/articles/{_help_version(world)}/", {"get": same(200)}),
    "help-widget-read": Row(lambda world: f"/help/api/articles/{_help_version(world)}/read", {"post": same(200)},
                            body=lambda world: {"session": world.visitor_token}, json=True),
    # --- REST API ---
    "api-root": Row(_desk("api-root"), {"get": API_DESK}),
    # The workspace's article search (helpcenter.access): agents and supervisors.
    "help-articles-api": Row(lambda world: "/api/v1/help/articles/?q=pedido&language=es", {"get": API_DESK}),
    "contact-list": Row(_desk("contact-list"), {
        "get": API_DESK_OR_INTEGRATION,
        "post": answers(401, 401, 201, 201, 201, 403, 403, 201),
    }, body=lambda world: {"kind": "customer", "external_id": "NEW-1", "name": "Nuevo"}, json=True),
    "contact-search": Row(lambda world: reverse("contact-search") + "?q=Ana", {"get": API_DESK}),
    "contact-detail": Row(lambda world: reverse("contact-detail", args=[world.contact]), {
        "get": API_DESK_OR_INTEGRATION, "patch": API_DESK_OR_INTEGRATION,
    }, body=lambda world: {"name": "Renamed"}, json=True),
    "contact-merge": Row(lambda world: reverse("contact-merge", args=[world.other_contact]),
                         {"post": API_SUPERVISOR}, body=lambda world: {"into": world.contact}, json=True),
    "contact-timeline": Row(lambda world: reverse("contact-timeline", args=[world.contact]), {"get": API_DESK}),
    "order-list": Row(_desk("order-list"), {"get": API_DESK}),
    "order-detail": Row(lambda world: reverse("order-detail", args=[world.order]), {"get": API_DESK}),
    "conversation-list": Row(_desk("conversation-list"), {
        "get": API_DESK,
        "post": answers(401, 401, 201, 201, 201, 403, 403, 201),
    }, body=lambda world: {"contact": world.other_contact, "channel": "email"}, json=True),
    "conversation-detail": Row(lambda world: reverse("conversation-detail", args=[world.conversation]), {
        "get": answers(401, 401, 200, 404, 200, 403, 403, 403),
        "patch": answers(401, 401, 200, 404, 200, 403, 403, 403),
    }, body=lambda world: {"status": "pending"}, json=True),
    "conversation-suggestions": Row(lambda world: reverse("conversation-suggestions", args=[world.conversation]),
                                    {"get": answers(401, 401, 200, 404, 200, 403, 403, 403)}),
    # Replies (`out`) only from the desk, on a conversation one may act on; the integration
    # writes the contact's words only (`in`: covered in tests/conversations/test_api.py).
    "message-list": Row(lambda world: reverse("message-list", kwargs={"conversation_id": world.conversation}), {
        "get": answers(401, 401, 200, 404, 200, 403, 403, 403),
        "post": answers(401, 401, 201, 404, 201, 403, 403, 403),
    }, body=lambda world: {"direction": "out", "body": "Hello"}, json=True),
    "routing-item-list": Row(_desk("routing-item-list"), {"get": API_SUPERVISOR}),
    "routing-item-detail": Row(lambda world: reverse("routing-item-detail", args=[world.item]),
                               {"get": API_SUPERVISOR}),
    "routing-item-accept": Row(lambda world: reverse("routing-item-accept", args=[world.offer]),
                               {"post": answers(401, 401, 200, 404, 403, 403, 403, 403)}),
    "routing-item-decline": Row(lambda world: reverse("routing-item-decline", args=[world.offer]),
                                {"post": answers(401, 401, 200, 404, 403, 403, 403, 403)}, json=True),
    "routing-item-transfer": Row(lambda world: reverse("routing-item-transfer", args=[world.item]),
                                 {"post": answers(401, 401, 200, 404, 200, 403, 403, 403)},
                                 body=lambda world: {"queue": "general"}, json=True),
    "routing-queue-stats": Row(_desk("routing-queue-stats"), {"get": API_SUPERVISOR}),
    "routing-heartbeat": Row(_desk("routing-heartbeat"), {"post": API_AGENT}),
    "routing-my-items": Row(_desk("routing-my-items"), {"get": API_AGENT}),
    "routing-presence": Row(_desk("routing-presence"), {"get": API_AGENT, "post": API_AGENT},
                            body=lambda world: {"presence": "online"}, json=True),
    # Reports (reports.access): supervisors only.
    "reports-staffing-list": Row(lambda world: reverse("reports-staffing-list") + "?queue=general",
                                 {"get": API_SUPERVISOR}),
    # Satisfaction ratings: supervisors see all, agents those of their own conversations.
    "rating-list": Row(_desk("rating-list"), {"get": API_DESK}),
    "rating-detail": Row(lambda world: reverse("rating-detail", args=[world.rating]),
                         {"get": answers(401, 401, 200, 404, 200, 403, 403, 403)}),
    # The schema and its docs describe the API, and hold no data: public.
    "schema": Row(_desk("schema"), {"get": same(200)}),
    "swagger-ui": Row(_desk("swagger-ui"), {"get": same(200)}),
    # --- the widget: token based, for anyone's browser ---
    "widget:session": Row(_desk("widget:session"), {"post": same(200)},
                          body=lambda world: {"session": world.visitor_token}, json=True),
    "widget:frame": Row(_desk("widget:frame"), {"get": same(200)}),
    "widget:demo": Row(_desk("widget:demo"), {"get": same(200)}),
    # Its self-service: the session token in the body is the access (conversations.access). The
    # world's visitor is anonymous: no orders to list, a first message goes to a chat as ever, and
    # the contact's order is not theirs (404), nor is an agent's chat about it.
    "widget:self_service": Row(_desk("widget:self_service"), {"post": same(200)},
                               body=lambda world: {"session": world.visitor_token}, json=True),
    "widget:self_service_answer": Row(_desk("widget:self_service_answer"), {"post": same(404)},
                                      body=lambda world: {"session": world.visitor_token, "topic": "order_status",
                                                          "order_id": world.order}, json=True),
    "widget:self_service_ask": Row(_desk("widget:self_service_ask"), {"post": same(200)},
                                   body=lambda world: {"session": world.visitor_token,
                                                       "text": "where is my order"}, json=True),
    "widget:self_service_agent": Row(_desk("widget:self_service_agent"), {"post": same(404)},
                                     body=lambda world: {"session": world.visitor_token, "order_id": world.order},
                                     json=True),
    # --- a survey link's rating page: public, the signed link is the access (a forged one: 400) ---
    "survey-rate": Row(lambda world: reverse("survey-rate", kwargs={"token": "forged:link"}),
                       {"get": same(400), "post": same(400)}, body=lambda world: {"score": "5"}),
    # --- email providers' inbound webhooks: the provider's signature is the access (none: 400) ---
    "email-inbound-mailgun": Row(_desk("email-inbound-mailgun"), {"post": same(400)},
                                 body=lambda world: {"body-mime": "Subject: forged\r\n\r\nhello"}),
    "email-inbound-postmark": Row(_desk("email-inbound-postmark"), {"post": same(400)},
                                  body=lambda world: {"RawEmail": "Subject: forged\r\n\r\nhello"}, json=True),
    # Their delivery reports on the desk's replies: the same signature and basic auth.
    "email-tracking-mailgun": Row(_desk("email-tracking-mailgun"), {"post": same(400)},
                                  body=lambda world: {"event-data": {"event": "opened"}}, json=True),
    "email-tracking-postmark": Row(_desk("email-tracking-postmark"), {"post": same(400)},
                                   body=lambda world: {"RecordType": "Open"}, json=True),
    # --- the voice webhooks (Twilio's shape): the provider's X-Twilio-Signature is the access ---
    **{name: Row(_desk(name), {"get": same(405), "post": same(401)}, body=lambda world: {"CallSid": "CA1"})
       for name in ("voice-incoming", "voice-language", "voice-wait", "voice-callback", "voice-queue-result",
                    "voice-status", "voice-agent-status", "voice-recording")},
    # --- the admin, one row: Django's own rule (staff) decides there ---
    "admin": Row(lambda world: reverse("admin:index"), {"get": answers(302, 302, 302, 302, 302, 200, 302, 302)}),
}

# Socket routes: what each role gets. "watching"/"not_found": the agent socket opened and the
# conversation was (not) theirs to watch; "ready": the visitor's chat; "closed:<code>": refused.
SOCKETS: dict[str, dict[str, str]] = {
    "ws/agent/": answers("closed:4401", "closed:4401", "watching", "not_found", "watching",
                         "closed:4403", "closed:4403", "closed:4403"),
    "ws/chat/": answers("closed:4401", "ready", "closed:4401", "closed:4401", "closed:4401",
                        "closed:4401", "closed:4401", "closed:4401"),
    # the catch-all: any other path is refused at the handshake, whoever asks
    "": answers(*["closed:1000"] * 8),
}


# HTTP routes served beside Django's URL conf (supportdesk.asgi): the caller is the signature.
SIGNED_ROUTES = {
    "integrations/oms/webhook": "HMAC-signed by the OMS: tests/integrations/test_oms_webhook.py",
    "integrations/whatsapp/webhook/": "Meta's verify token (GET) and X-Hub-Signature-256 (POST): "
                                      "tests/integrations/test_whatsapp.py",
}


# --- the URL conf and the socket routes, walked ----------------------------------------------------


def url_entries() -> dict[str, list[Any]]:
    """Every URL pattern's key (its name, namespaced) with the views it reaches; the admin
    is one key. DRF's format-suffix twins share their route's name and view."""
    entries: dict[str, list[Any]] = {}

    def walk(patterns: list[Any], namespace: str = "") -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.app_name == "admin":
                    entries.setdefault("admin", [])
                    continue
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern.url_patterns, inner)
            elif isinstance(pattern, URLPattern):
                key = f"{namespace}{pattern.name}" if pattern.name else str(pattern.pattern)
                entries.setdefault(key, []).append(pattern.callback)

    walk(get_resolver().url_patterns)
    return entries


def test_every_entry_point_has_a_row_and_every_row_an_entry_point():
    entries = url_entries()
    sockets = {str(route.pattern) for route in websocket_urlpatterns}

    assert sorted(set(entries) - set(MATRIX)) == [], "new endpoint without an entry in the matrix"
    assert sorted(set(MATRIX) - set(entries)) == [], "a row for an endpoint that is gone"
    assert sorted(sockets ^ set(SOCKETS)) == [], "a socket route without a row (or a row without a route)"


def test_every_http_route_beside_the_url_conf_is_accounted_for():
    from supportdesk.asgi import application

    routes = {str(route.pattern) for route in application.application_mapping["http"].routes}

    assert routes - {""} == set(SIGNED_ROUTES), "an HTTP route outside the URL conf without an access rule"


@pytest.mark.parametrize("key", sorted(MATRIX))
def test_a_viewsets_methods_are_exactly_the_rows_methods(key):
    for view in url_entries().get(key, []):
        actions = getattr(view, "actions", None)
        if actions:  # a DRF viewset route: the methods it answers are known
            assert set(actions) - {"head"} == set(MATRIX[key].methods), key  # HEAD is GET


def _status(client: Client, method: str, url: str, row: Row, world: World) -> int:
    body = row.body(world)
    if method == "get":
        return client.get(url, body).status_code
    if row.json:
        return getattr(client, method)(url, body, content_type="application/json").status_code
    return getattr(client, method)(url, body).status_code


def _matches(actual: int, expected: Answer) -> bool:
    return actual in expected if isinstance(expected, tuple) else actual == expected


@pytest.mark.django_db
@pytest.mark.parametrize(("key", "method"), [(key, method) for key, row in MATRIX.items()
                                             for method in row.methods])
def test_each_role_gets_the_answer_in_the_matrix(key, method):
    world = world_build()
    row = MATRIX[key]
    url = row.url(world)

    actual = {}
    for role in ROLES:
        with transaction.atomic():
            actual[role] = _status(client_for(world, role), method, url, row, world)
            transaction.set_rollback(True)

    expected = row.methods[method]
    assert {role: status for role, status in actual.items() if not _matches(status, expected[role])} == {}, (
        f"{method.upper()} {url}: expected {expected}, got {actual}")


# --- sockets --------------------------------------------------------------------------------------


async def _agent_socket(world: World, role: str) -> str:
    user = world.users.get(role, AnonymousUser())
    communicator = agent_communicator(user, "/ws/agent/" + (f"?token={world.visitor_token}"
                                                              if role == "visitor" else ""))
    connected, code = await communicator.connect()
    if not connected:
        return f"closed:{code}"
    await communicator.send_json_to({"type": "watch", "conversation_id": world.conversation})
    answer = await communicator.receive_json_from(timeout=5)
    await communicator.disconnect()
    return "watching" if answer["type"] == "watching" else answer.get("code", answer["type"])


async def _chat_socket(world: World, role: str) -> str:
    token = world.visitor_token if role == "visitor" else ""
    communicator = agent_communicator(world.users.get(role, AnonymousUser()), f"/ws/chat/?token={token}")
    connected, code = await communicator.connect()
    if not connected:
        return f"closed:{code}"
    first = await communicator.receive_output(timeout=5)
    if first["type"] == "websocket.send":
        frame = json.loads(first["text"])
        if frame["type"] == "ready":
            await communicator.disconnect()
            return "ready"
        first = await communicator.receive_output(timeout=5)  # the error frame, then the close
    return f"closed:{first.get('code')}"


async def _other_socket(world: World, role: str) -> str:
    token = world.visitor_token if role == "visitor" else ""
    communicator = agent_communicator(world.users.get(role, AnonymousUser()), f"/ws/nowhere/?token={token}")
    connected, code = await communicator.connect()
    if connected:
        await communicator.disconnect()
        return "open"
    return f"closed:{code}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_channel_layer")
@pytest.mark.parametrize("route", sorted(SOCKETS))
def test_each_role_gets_the_socket_answer_in_the_matrix(route):
    world = world_build()
    connect = {"ws/agent/": _agent_socket, "ws/chat/": _chat_socket}.get(route, _other_socket)

    actual = {role: async_to_sync(connect)(world, role) for role in ROLES}

    assert actual == SOCKETS[route]
