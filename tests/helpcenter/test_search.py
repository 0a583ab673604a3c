"""Article search in the reader's language: full-text where PostgreSQL has a configuration,
trigrams where it has none, accents and typos forgiven, best first, only what is published."""

from __future__ import annotations

import pytest

from helpcenter.search import article_search
from supportdesk.errors import DomainError


def titles(query: str, language: str) -> list[str]:
    return [hit.title for hit in article_search(query=query, language=language)]


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["devolución", "devolucion", "DEVOLUCIÓN", "devoluciones"])
def test_spanish_with_or_without_accents_and_inflected_finds_the_refund_article(help_center, query):
    # The title says "Devolución"; the coupons article mentions "devolución" in its body only.
    found = titles(query, "es")

    assert found[0] == "Devolución del dinero y reembolsos"
    assert "Cupones de descuento" in found


@pytest.mark.django_db
def test_a_typo_still_finds_the_article(help_center):
    assert titles("reembolzos", "es")[0] == "Devolución del dinero y reembolsos"


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "language", "expected"), [
    ("tarjtea", "es", "Devolución del dinero y reembolsos"),  # body only: "tarjeta", two letters swapped
    ("tajeta", "es", "Devolución del dinero y reembolsos"),  # one left out
    ("tarheta", "es", "Devolución del dinero y reembolsos"),  # one changed
    ("tarjetta", "es", "Devolución del dinero y reembolsos"),  # one added
    ("laborabels", "es", "Devolución del dinero y reembolsos"),
    ("wroking days", "en", "How refunds work"),  # one misspelt word beside a right one
    ("promsied", "en", "Where is my order?"),
    ("მიწოდებსი", "ka", "სად არის ჩემი შეკვეთა?"),  # Georgian, no configuration: the word is corrected too
])
def test_a_typo_in_a_word_of_the_body_is_corrected_to_the_articles_word(help_center, query, language, expected):
    assert titles(query, language) == [expected]


@pytest.mark.django_db
def test_corrections_stay_within_the_edit_distance_and_leave_numbers_and_prefixes_alone(help_center):
    assert titles("crad", "en") == ["How refunds work"]  # "card", two letters swapped: one edit
    assert titles("corde", "en") == []  # "card" is two edits away
    assert titles("tarjxxa", "es") == []  # "tarjeta" too
    assert titles("cad", "en") == []  # three letters are never corrected
    assert titles("4 to 6", "en") == []  # nor digits ("3 to 5" does not match)
    # A word that begins a word of the articles is a prefix being typed, not a typo.
    assert titles("promi", "en") == ["Where is my order?"]


@pytest.mark.django_db
def test_a_drafts_words_are_no_correction_until_published_and_leave_on_a_rebuild(help_center):
    from helpcenter.models import SearchWord
    from helpcenter.services import search_words_rebuild

    assert not SearchWord.objects.filter(language="es", word="borrador").exists()  # draft only
    assert SearchWord.objects.filter(language="es", word="tarjeta").exists()
    where = help_center.versions["where:en"]
    where.status = "draft"
    where.save()

    assert search_words_rebuild() == SearchWord.objects.count()
    assert not SearchWord.objects.filter(language="en", word="promised").exists()
    assert SearchWord.objects.filter(language="en", word="refund").exists()


@pytest.mark.django_db
def test_stemming_in_the_language_configuration(help_center):
    # Spanish "pedidos" and "pedido" share the stem; English "refunds" is "refund".
    assert titles("pedidos", "es") == ["¿Dónde está mi pedido?"]
    assert titles("refunding", "en") == ["How refunds work"]


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "language", "expected"), [
    ("배송", "ko", "내 주문은 어디에 있나요?"),  # Korean: no PostgreSQL configuration, trigrams
    ("주문 상태", "ko", "내 주문은 어디에 있나요?"),
    ("შეკვეთა", "ka", "სად არის ჩემი შეკვეთა?"),  # Georgian, no configuration either
    ("შეკვეთებ", "ka", "სად არის ჩემი შეკვეთა?"),  # a word cut short
])
def test_languages_without_a_configuration_match_by_trigrams(help_center, query, language, expected):
    assert titles(query, language) == [expected]


@pytest.mark.django_db
def test_only_the_readers_language_and_only_published_versions(help_center):
    found = titles("devolución", "es")

    assert "Devolución secreta (borrador)" not in found  # a draft
    assert titles("refund", "es") == []  # the English article is not offered to a Spanish reader
    assert titles("devolución", "en") == []


@pytest.mark.django_db
def test_the_title_match_ranks_before_a_body_match(help_center):
    hits = article_search(query="cupón", language="es")

    assert [hit.title for hit in hits] == ["Cupones de descuento"]
    assert hits[0].path == "/help/es/payments/cupones/"
    assert hits[0].snippet.startswith("Un cupón se aplica al pagar")


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "language", "code"), [
    ("a", "es", "query_too_short"), ("x" * 101, "es", "query_too_long"), ("pedido", "xx", "unknown_language"),
])
def test_bad_input_is_a_clear_error(help_center, query, language, code):
    with pytest.raises(DomainError) as error:
        article_search(query=query, language=language)

    assert error.value.code == code


@pytest.mark.django_db
def test_websearch_syntax_is_never_an_error(help_center):
    # Unbalanced quotes, operators and punctuation are words to websearch_to_tsquery, not errors.
    assert titles('"pedido -  OR ) (', "es") == ["¿Dónde está mi pedido?"]


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["ʼn pedido", "pedidoː", "½ pedido", "l'été & | ! ( pedido", "___", "¿?"])
def test_letters_that_unaccent_turns_into_punctuation_are_no_syntax_error(help_center, query):
    # U+02BC becomes an apostrophe and U+02D0 a colon once unaccented: to_tsquery syntax, were
    # the words not cut after unaccenting.
    hits = article_search(query=query, language="es")

    assert all(hit.title for hit in hits)
