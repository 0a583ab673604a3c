"""A visitor types a question in the widget, a suggested help article appears in their language,
they read it inside the widget, then ask for an agent; the agent who takes the chat sees what
was read before asking. Two real browsers over the real ASGI server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from conversations.models import Conversation, SelfServiceSession
from helpcenter.models import Article, ArticleVersion, Category, CategoryName
from helpcenter.services import article_version_save
from tests.browser.desk import agent_online, desk_prepare
from tests.factories import AgentProfileFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _desk(settings):
    desk_prepare(settings)


def _articles() -> None:
    category = Category.objects.create(slug="pedidos")
    CategoryName.objects.create(category=category, language="es", name="Pedidos")
    for key, slug, title, body in (
            ("where", "donde-esta-mi-pedido", "¿Dónde está mi pedido?",
             "Abre **Mis pedidos** para ver el estado y la hora prometida."),
            ("refunds", "reembolsos", "Reembolsos", "Un reembolso tarda de 3 a 5 días.")):
        article = Article.objects.create(key=key, category=category)
        article_version_save(version=ArticleVersion(article=article, language="es", slug=slug, title=title,
                                                    body=body, status="published"))


@pytest.fixture
def two_browsers(browser) -> Iterator:
    contexts = [browser.new_context(), browser.new_context()]
    pages = [context.new_page() for context in contexts]
    errors: list[str] = []
    for page in pages:
        page.set_default_timeout(15_000)  # two busy cores: sockets, pages and searches
        page.on("pageerror", lambda error: errors.append(str(error)))
    yield (*pages, errors)
    for context in contexts:
        context.close()


def test_a_visitor_reads_a_suggested_article_then_asks_an_agent_who_sees_what_was_read(asgi_server, two_browsers):
    visitor, desk, errors = two_browsers
    _articles()
    profile = AgentProfileFactory(languages=["es"], contact_kinds=["customer"], user__first_name="Marta")
    agent_online(desk, asgi_server.url, profile)

    # A Spanish-speaking visitor types a question: after a pause, the article in Spanish
    visitor.goto(asgi_server.url + "/widget/demo/?lang=es")
    visitor.get_by_test_id("supportdesk-launcher").click()
    chat = visitor.frame_locator("[data-testid=supportdesk-frame]")
    expect(chat.get_by_test_id("status-line")).to_contain_text("Conectado")
    chat.get_by_test_id("composer").press_sequentially("¿Dónde está mi pedido? No ha llegado")
    suggestions = chat.get_by_test_id("article-suggestions")
    expect(suggestions).to_be_visible()
    expect(suggestions).to_contain_text("Artículos que pueden ayudarte")
    first = chat.get_by_test_id("article-suggestion").first
    expect(first).to_contain_text("¿Dónde está mi pedido?")

    # They open it inside the widget and read it
    first.click()
    reader = chat.get_by_test_id("article-reader")
    expect(reader).to_be_visible()
    expect(chat.get_by_test_id("article-title")).to_have_text("¿Dónde está mi pedido?")
    expect(chat.get_by_test_id("article-body").locator("strong")).to_have_text("Mis pedidos")
    talk = chat.get_by_test_id("article-talk")
    expect(talk).to_have_text("Hablar con un agente")

    # Not answered: one click to an agent, with the question they had typed
    talk.click()
    expect(reader).to_be_hidden()
    mine = chat.locator("[data-testid=message][data-direction=in]")
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text("¿Dónde está mi pedido? No ha llegado")
    # Opening the chat detects its language and routes it (eagerly here): slow on two busy cores
    expect(mine).to_have_attribute("data-state", "sent", timeout=30_000)
    expect(suggestions).to_be_hidden()
    conversation = Conversation.objects.get()
    session = SelfServiceSession.objects.get()
    assert session.conversation_id == conversation.pk  # followed: not deflected

    # The agent takes the chat and sees what was read before asking, linked
    offer = desk.get_by_test_id("offer")
    expect(offer).to_have_count(1, timeout=15_000)
    offer.get_by_test_id("offer-accept").click()
    expect(desk.get_by_test_id("conversation")).to_have_attribute("data-conversation-id", str(conversation.pk))
    read = desk.get_by_test_id("read-before-item")
    expect(read).to_have_count(1)
    expect(read).to_contain_text("Read before asking: ¿Dónde está mi pedido?")
    expect(read.locator("a")).to_have_attribute("href", "/help/es/pedidos/donde-esta-mi-pedido/")
    expect(desk.get_by_test_id("read-before-query")).to_contain_text("¿Dónde está mi pedido? No ha llegado")
    assert errors == []


def test_the_reports_page_draws_the_deflection_and_explains_its_absence_under_a_channel_filter(
        asgi_server, page):
    from datetime import timedelta

    from django.utils import timezone

    from tests.browser.test_reports import _drawn, _sign_in
    from tests.factories import ContactFactory

    now = timezone.now()
    for hours_ago, followed in ((30, False), (40, False), (50, True)):  # two deflected, one followed
        started = now - timedelta(hours=hours_ago)
        SelfServiceSession.objects.create(contact=ContactFactory(), language="es", contact_kind="customer",
                                          started_at=started, answered_at=started,
                                          followed_at=started + timedelta(hours=1) if followed else None)
    page.set_default_timeout(15_000)

    _sign_in(page, asgi_server.url)
    _drawn(page, 1)
    table = page.get_by_test_id("table-self-service")

    expect(table.locator("tr[data-metric=answered] td").first).to_have_text("3")
    expect(table.locator("tr[data-metric=deflected] td").first).to_have_text("2")
    expect(table.locator("tr[data-metric=followed] td").first).to_have_text("1")
    expect(table.locator("tr[data-metric=deflection_rate] td").first).to_have_text("67 %")
    expect(page.get_by_test_id("self-service-note")).to_be_hidden()

    page.select_option("[data-testid=filter-channel]", "chat")
    _drawn(page, 2)
    expect(table).to_be_hidden()
    expect(page.get_by_test_id("self-service-note")).to_be_visible()
