"""The public pages: published versions only, indexable heads, clear 404s, votes and views."""

from __future__ import annotations

import re
import secrets

import pytest

from helpcenter.models import Article, ArticleVersion, HelpfulVote
from tests.helpcenter.conftest import version_write


def _fresh_address() -> str:
    # The vote rate limit counts per address in Redis: each test answers from an address of its own.
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


@pytest.mark.django_db
def test_the_home_lists_the_categories_with_articles_in_the_language(client, help_center):
    response = client.get("/help/es/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/help/es/orders/"' in html and 'href="/help/es/payments/"' in html
    assert '<html lang="es"' in html
    # Korean has only the orders category's article.
    korean = client.get("/help/ko/").content.decode()
    assert 'href="/help/ko/orders/"' in korean and "/help/ko/payments/" not in korean


@pytest.mark.django_db
def test_a_category_lists_its_published_articles_only(client, help_center):
    html = client.get("/help/es/orders/").content.decode()

    assert "¿Dónde está mi pedido?" in html
    assert "borrador" not in html


@pytest.mark.django_db
def test_an_article_page_is_indexable(client, help_center, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        response = client.get("/help/es/orders/donde-esta-mi-pedido/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<title>¿Dónde está mi pedido? · " in html
    assert '<meta name="description" content="Abre Mis pedidos para ver el estado y la hora de entrega.' in html
    assert '<link rel="canonical" href="http://testserver/help/es/orders/donde-esta-mi-pedido/">' in html
    alternates = re.findall(r'<link rel="alternate" hreflang="(\w+)" href="([^"]+)">', html)
    assert sorted(alternates) == [
        ("en", "http://testserver/help/en/orders/where-is-my-order/"),
        ("es", "http://testserver/help/es/orders/donde-esta-mi-pedido/"),
        ("ka", "http://testserver/help/ka/orders/sad-aris-chemi-shekveta/"),
        ("ko", "http://testserver/help/ko/orders/주문-배송-조회/"),
    ]
    assert "<strong>Mis pedidos</strong>" in html
    assert '<a href="/help/en/orders/where-is-my-order/" hreflang="en" lang="en">English</a>' in html
    assert 'name="viewport"' in html


@pytest.mark.django_db
def test_the_body_is_sanitised(client, help_center):
    evil = Article.objects.create(key="evil", category=help_center.orders)
    version = version_write(evil, "es", "malo", "Malo",
                            "<script>alert(1)</script>\n\n[x](javascript:alert(1)) <img src=x onerror=alert(1)>"
                            "\n\n[ok](https://example.com)")

    html = client.get("/help/es/orders/malo/").content.decode()

    # Raw HTML stays text, a javascript: link is no link; a real link gets rel nofollow.
    assert "&lt;script&gt;" in version.body_html
    assert "<script>alert" not in html and "<img" not in html and 'href="javascript' not in html
    assert '<a href="https://example.com" rel="noopener noreferrer nofollow">ok</a>' in html


def test_the_sanitiser_is_a_second_fence():
    # Even HTML that reached nh3 (not the Markdown parser's output) loses scripts and handlers.
    from helpcenter.markdown import nh3_clean

    assert nh3_clean('<p onclick="x()">hi<script>alert(1)</script></p>') == "<p>hi</p>"


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "message"), [
    ("/help/xx/", "not available in this language"),
    ("/help/en/nothing/", "no such category"),
    ("/help/en/orders/nothing/", "no such article"),
    ("/help/es/orders/nada/", "Ese artículo no existe"),  # in the reader's language
    ("/help/es/orders/borrador-devolucion/", "Ese artículo no existe"),  # a draft
    ("/help/es/payments/donde-esta-mi-pedido/", "Ese artículo no existe"),  # another category's article
    ("/help/xx/search/?q=pedido", "not available in this language"),
])
def test_unknown_or_unpublished_is_a_clear_404_page(client, help_center, url, message):
    response = client.get(url)

    assert response.status_code == 404
    html = response.content.decode()
    assert 'data-testid="help-not-found"' in html and message in html
    assert 'href="/help/' in html  # a way back


@pytest.mark.django_db
def test_views_are_counted(client, help_center):
    version = help_center.versions["where:es"]

    for _ in range(3):
        client.get("/help/es/orders/donde-esta-mi-pedido/")
    client.get("/help/es/orders/donde-esta-mi-pedido/?voted=yes")  # back after a vote: not another view

    assert ArticleVersion.objects.get(pk=version.pk).views == 3


@pytest.mark.django_db
def test_a_vote_is_recorded_once_per_session_and_can_change(client, help_center):
    version = help_center.versions["where:es"]
    url = "/help/es/orders/donde-esta-mi-pedido/helpful/"
    address = _fresh_address()

    first = client.post(url, {"helpful": "yes"}, REMOTE_ADDR=address)
    client.post(url, {"helpful": "yes"}, REMOTE_ADDR=address)
    assert first.status_code == 303
    assert first["Location"] == "/help/es/orders/donde-esta-mi-pedido/?voted=yes#helpful"
    assert list(HelpfulVote.objects.filter(version=version).values_list("helpful", flat=True)) == [True]

    client.post(url, {"helpful": "no"}, REMOTE_ADDR=address)  # changed their mind
    assert list(HelpfulVote.objects.filter(version=version).values_list("helpful", flat=True)) == [False]

    other_reader = client.__class__()
    other_reader.post(url, {"helpful": "yes"}, REMOTE_ADDR=address)
    assert sorted(HelpfulVote.objects.filter(version=version).values_list("helpful", flat=True)) == [False, True]

    thanks = client.get(first["Location"]).content.decode()
    assert "Gracias por tu respuesta." in thanks


@pytest.mark.django_db
def test_a_bad_vote_is_a_400_and_a_draft_a_404(client, help_center):
    address = _fresh_address()
    bad = client.post("/help/es/orders/donde-esta-mi-pedido/helpful/", {"helpful": "maybe"}, REMOTE_ADDR=address)
    draft = client.post("/help/es/orders/borrador-devolucion/helpful/", {"helpful": "yes"}, REMOTE_ADDR=address)

    assert bad.status_code == 400
    assert draft.status_code == 404
    assert HelpfulVote.objects.count() == 0


@pytest.mark.django_db
def test_votes_from_one_address_are_bounded(client, help_center, rate_limit_window_held):
    url = "/help/es/orders/donde-esta-mi-pedido/helpful/"
    address = _fresh_address()
    answers = [client.__class__().post(url, {"helpful": "yes"}, REMOTE_ADDR=address).status_code
               for _ in range(31)]

    assert answers[:30] == [303] * 30
    assert answers[30] == 429
    assert HelpfulVote.objects.count() == 30


@pytest.mark.django_db
def test_the_search_page(client, help_center):
    html = client.get("/help/es/search/", {"q": "devolucion"}).content.decode()
    short = client.get("/help/es/search/", {"q": "a"})

    assert html.index("Devolución del dinero y reembolsos") < html.index("Cupones de descuento")
    assert "borrador" not in html
    assert short.status_code == 400 and "Escribe al menos 2 caracteres" in short.content.decode()


@pytest.mark.django_db
def test_help_root_follows_the_browser_language(client, help_center):
    assert client.get("/help/", HTTP_ACCEPT_LANGUAGE="ka,en;q=0.5")["Location"] == "/help/ka/"
    assert client.get("/help/", HTTP_ACCEPT_LANGUAGE="ja")["Location"] == "/help/en/"


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/help/es/%00/", "/help/es/orders/%00/", "/help/es/search/?q=%00x"])
def test_a_nul_character_in_an_address_is_no_page_not_an_error(client, help_center, url):
    assert client.get(url).status_code in (400, 404)


@pytest.mark.django_db
def test_the_frame_speaks_the_readers_language(client, help_center):
    spanish = client.get("/help/es/").content.decode()
    english = client.get("/help/en/").content.decode()
    arabic = client.get("/help/ar/").content.decode()

    assert "¿Cómo podemos ayudarte?" in spanish and "<title>Centro de ayuda</title>" in spanish
    assert "How can we help?" in english
    assert '<html lang="ar" dir="rtl">' in arabic
