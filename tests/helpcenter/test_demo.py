"""The demo's help center: written by the seeding's step, once, linked to the contact reasons."""

from __future__ import annotations

import pytest

from conversations.models import ContactReason
from helpcenter.demo import demo_help_center
from helpcenter.models import ArticleVersion
from helpcenter.search import article_search
from supportdesk import seeding


@pytest.mark.django_db
def test_the_seeding_step_writes_the_demo_articles_once(client):
    ContactReason.objects.create(key="late_order", label="Late order")

    first = demo_help_center(wrote=True, on_progress=None)
    count = ArticleVersion.objects.count()
    second = demo_help_center(wrote=True, on_progress=None)

    assert first.startswith(f"Help center: {count} article versions written")
    assert second == "Help center: its articles were there (/help/)."
    assert ArticleVersion.objects.count() == count
    assert set(ArticleVersion.objects.values_list("language", flat=True)) == {"en", "es", "ka", "ko"}
    assert [hit.title for hit in article_search(query="donde esta mi pedido", language="es")][0] == \
        "¿Dónde está mi pedido?"
    assert ContactReason.objects.get(key="late_order").help_articles.get().key == "where-is-my-order"
    assert client.get("/help/ko/").status_code == 200


def test_the_step_is_registered_with_the_seeding():
    assert seeding._steps["helpcenter"] is demo_help_center
