"""The agent links a help article from the workspace: searched in the chat's language,
inserted at the caret of the composer as the article's absolute address."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from conversations.models import Conversation
from helpcenter.models import Article, ArticleVersion, Category, CategoryName
from helpcenter.services import article_version_save
from tests.browser.desk import assigned_chat, desk_prepare, desk_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _desk(settings):
    desk_prepare(settings)
    settings.DESK_PUBLIC_URL = "https://desk.example.com"


def test_an_agent_inserts_a_link_to_an_article_in_the_customers_language(asgi_server, page):
    profile, conversation, _ = assigned_chat()
    Conversation.objects.filter(pk=conversation.pk).update(language="es")
    category = Category.objects.create(slug="pagos")
    CategoryName.objects.create(category=category, language="es", name="Pagos")
    article = Article.objects.create(key="refunds", category=category)
    for language, slug, title in (("es", "reembolsos", "Devolución del dinero"), ("en", "refunds", "Refunds")):
        article_version_save(version=ArticleVersion(article=article, language=language, slug=slug, title=title,
                                                    body="3 a 5 días.", status="published"))

    page.set_default_timeout(15_000)  # two busy cores: the socket, the page and the search
    # Once the socket is open the conversation is drawn again (a resync): type after it.
    desk_sign_in(page, f"{asgi_server.url}/desk/c/{conversation.pk}/", profile)
    composer = page.get_by_test_id("composer")
    composer.fill("Mira esto:")
    page.get_by_test_id("help-insert-query").fill("devolucion")
    result = page.get_by_test_id("help-insert-result")
    expect(page.get_by_test_id("help-insert-results")).to_contain_text("Devolución del dinero", timeout=15_000)
    expect(result).to_have_count(1)
    expect(result).to_have_text("Devolución del dinero")
    result.click()

    expect(composer).to_have_value("Mira esto: https://desk.example.com/help/es/pagos/reembolsos/ ")
