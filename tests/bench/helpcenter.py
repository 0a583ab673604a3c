"""Help-center search benchmark: article search in the reader's language over 20,000
article versions in 13 languages (full-text ones and trigram-only ones).

In its own database (`<database>_bench_helpcenter`), generated inside PostgreSQL with
INSERT ... SELECT generate_series (seconds; kept between runs when complete): articles with
a version in each of 13 languages, titles and bodies drawn from a vocabulary per language
(a few dozen real support words with their accents, and a thousand made-up words of the
language's script, so a word matches a realistic share of the articles, not all of them);
the search columns filled as `helpcenter.services` fills them. Then searches through the
real endpoint, `GET /api/v1/help/articles/?q=&language=` (Django's test client in this
process: URL routing, middleware, session authentication, DRF, the one SQL statement, the
JSON; no network): words with and without accents, inflected, with a typo, and Korean,
Georgian, Ukrainian and Polish (trigram matching, no PostgreSQL configuration).

    python -m tests.bench.helpcenter [--versions 20000] [--repeat 20]

Target: p95 under 30 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time

from tests.bench import harness
from tests.bench.timeline import timed  # the same measured GET, refusing any answer but 200

DATABASE = "bench_helpcenter"
TARGET_MS = 30.0

# Real words per language (what readers type) and the letters the made-up words are built of
# (a consonant and a vowel a syllable, three syllables a word: a trigram space as wide as real text's).
LATIN_CONSONANTS = "bcdfghjklmnprstvz"
VOCABULARY: dict[str, tuple[list[str], str, str]] = {
    "es": (["pedido", "entrega", "devolución", "reembolso", "cupón", "repartidor", "retraso", "pago",
            "tarjeta", "cuenta", "contraseña", "factura", "dirección", "producto", "tienda"],
           LATIN_CONSONANTS + "ñ", "aeiouáéó"),
    "en": (["order", "delivery", "refund", "coupon", "courier", "delay", "payment", "card", "account",
            "password", "invoice", "address", "item", "store", "missing"], LATIN_CONSONANTS + "wy", "aeiou"),
    "ca": (["comanda", "lliurament", "devolució", "reemborsament", "cupó", "repartidor", "retard",
            "pagament", "targeta", "compte"], LATIN_CONSONANTS + "ç", "aeiouàèò"),
    "it": (["ordine", "consegna", "rimborso", "coupon", "corriere", "ritardo", "pagamento", "carta",
            "account", "indirizzo"], LATIN_CONSONANTS, "aeiouàè"),
    "pt": (["pedido", "entrega", "devolução", "reembolso", "cupom", "entregador", "atraso", "pagamento",
            "cartão", "endereço"], LATIN_CONSONANTS + "ç", "aeiouãõá"),
    "fr": (["commande", "livraison", "remboursement", "coupon", "livreur", "retard", "paiement",
            "carte", "compte", "adresse"], LATIN_CONSONANTS + "ç", "aeiouéèê"),
    "de": (["Bestellung", "Lieferung", "Rückerstattung", "Gutschein", "Kurier", "Verspätung", "Zahlung",
            "Karte", "Konto", "Adresse"], LATIN_CONSONANTS + "ßw", "aeiouäöü"),
    "tr": (["sipariş", "teslimat", "iade", "kupon", "kurye", "gecikme", "ödeme", "kart", "hesap",
            "adres"], LATIN_CONSONANTS + "şğ", "aeiouıöü"),
    "ro": (["comandă", "livrare", "rambursare", "cupon", "curier", "întârziere", "plată", "card",
            "cont", "adresă"], LATIN_CONSONANTS + "șț", "aeiouăâî"),
    "pl": (["zamówienie", "dostawa", "zwrot", "kupon", "kurier", "opóźnienie", "płatność", "karta",
            "konto", "adres"], LATIN_CONSONANTS + "łżśćw", "aeiouyąę"),
    "uk": (["замовлення", "доставка", "повернення", "купон", "кур'єр", "затримка", "оплата", "картка",
            "рахунок", "адреса"], "бвгдзклмнпрстфхцчшщж", "аеиоуяюєії"),
    "ka": (["შეკვეთა", "მიწოდება", "დაბრუნება", "კუპონი", "კურიერი", "დაგვიანება", "გადახდა", "ბარათი",
            "ანგარიში", "მისამართი"], "ბგდვზთკლმნპჟრსტფქღყშჩცძწჭხჯჰ", "აეიოუ"),
    # Hangul: each syllable is one character; two-syllable made-up words from 400 of them.
    "ko": (["주문", "배송", "환불", "쿠폰", "배달원", "지연", "결제", "카드", "계정", "주소"],
           "".join(chr(0xAC00 + (n * 37) % 11172) for n in range(400)), ""),
}

SEARCHES: list[tuple[str, str]] = [
    ("es", "devolución"), ("es", "devolucion"), ("es", "reembolzo"), ("es", "pedidos retraso"),
    ("en", "refund"), ("en", "refnud"), ("en", "delivery delay"), ("ca", "devolucio"), ("it", "rimborsi"),
    ("pt", "devolucao"), ("fr", "remboursement"), ("fr", "livraisons"), ("de", "Ruckerstattung"),
    ("de", "Lieferungen"), ("tr", "siparis"), ("ro", "intarziere"), ("pl", "zwrot"), ("pl", "zamowienie"),
    ("uk", "повернення"), ("uk", "доставк"), ("ka", "შეკვეთა"), ("ka", "მიწოდებ"), ("ko", "환불"),
    ("ko", "배송 지연"),
    # Misspelt words of the bodies, corrected to the nearest word of the language's articles.
    ("es", "facutra"), ("en", "pasword"),
]


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _syllables(language: str) -> list[str]:
    _, consonants, vowels = VOCABULARY[language]
    if language == "ko":  # already syllables
        return list(consonants)
    return [consonant + vowel for consonant in consonants for vowel in vowels]


def _words_sql(language: str, count: int, seed: int, real_every: int) -> str:
    """`count` words for row i, drawn by a hash of (i, k): one real word in `real_every`, the rest
    made up (so a real word is in a realistic share of the articles, not in all of them)."""
    real = VOCABULARY[language][0]
    syllables = _syllables(language)
    real_array = "(ARRAY[" + ", ".join(_sql_text(word) for word in real) + "])"
    syllable_array = "(ARRAY[" + ", ".join(_sql_text(part) for part in syllables) + "])"
    n_real, n_syl = len(real), len(syllables)
    hashed = f"abs(hashtext(i || '-' || k || '-{seed}')::bigint)"
    made_up = (f"{syllable_array}[1 + (h / 5) % {n_syl}] || {syllable_array}[1 + (h / 997) % {n_syl}]"
               + ("" if language == "ko" else f" || {syllable_array}[1 + (h / 99991) % {n_syl}]"))
    word = f"CASE WHEN h % {real_every} = 0 THEN {real_array}[1 + (h / 7) % {n_real}] ELSE {made_up} END"
    return (f"array_to_string(ARRAY(SELECT {word} FROM (SELECT k, {hashed} AS h "
            f"FROM generate_series(1, {count}) k) w ORDER BY k), ' ')")


def generate(*, versions: int) -> int:
    """The data set (kept when already complete); the number of versions."""
    from django.db import connection

    from helpcenter.languages import text_search_config
    from helpcenter.models import Article, ArticleVersion, Category, CategoryName, SearchWord

    languages = list(VOCABULARY)
    articles = -(-versions // len(languages))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM helpcenter_articleversion WHERE status = 'published'")
        have = cursor.fetchone()[0]
    if have == articles * len(languages):
        harness.step(f"the data set is there already ({have:,} versions)")
        if not SearchWord.objects.exists():  # kept from before the corrections existed
            _words_fill()
        return have
    harness.step("generating the data set (inside PostgreSQL)")
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE helpcenter_helpfulvote, helpcenter_articleversion, "
                       "helpcenter_article_contact_reasons, helpcenter_article, helpcenter_categoryname, "
                       "helpcenter_category RESTART IDENTITY CASCADE")
    categories = [Category.objects.create(slug=f"category-{n}", position=n) for n in range(12)]
    CategoryName.objects.bulk_create([CategoryName(category=category, language=language, name=category.slug)
                                      for category in categories for language in languages])
    first_category = categories[0].pk
    sql, params = harness.insert_select_sql(Article, {
        "category": f"{first_category} + i % 12", "key": "'article-' || i", "position": "i",
        "created_at": "now()",
    }, connection=connection, source="generate_series(1, %s) AS i")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, articles])
        cursor.execute("SELECT min(id) FROM helpcenter_article")
        first_article = cursor.fetchone()[0]
    for seed, language in enumerate(languages):
        title, body = _words_sql(language, 5, seed, 4), _words_sql(language, 120, seed + 100, 40)
        sql, params = harness.insert_select_sql(ArticleVersion, {
            "article": f"{first_article} + i - 1", "language": _sql_text(language),
            "slug": f"'{language}-' || i", "title": title, "summary": "''", "body": body,
            "body_html": "''", "status": "'published'", "published_at": "now()", "updated_at": "now()",
            "views": "0", "search_text": "''",
        }, connection=connection, source="generate_series(1, %s) AS i")
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, articles])
            # As helpcenter.services fills them: the text lower-cased and unaccented, then the vector.
            cursor.execute("UPDATE helpcenter_articleversion SET body_html = '<p>' || body || '</p>', "
                           "search_text = lower(public.sd_unaccent(title || ' ' || summary)) "
                           "WHERE language = %s",
                           [language])
            cursor.execute("UPDATE helpcenter_articleversion SET search_vector = "
                           "setweight(to_tsvector(%s::regconfig, public.sd_unaccent(title)), 'A') || "
                           "setweight(to_tsvector(%s::regconfig, "
                           "public.sd_unaccent(summary || ' ' || body)), 'B') "
                           "WHERE language = %s", [text_search_config(language)] * 2 + [language])
        harness.step(f"{language}: {articles:,} versions ({time.monotonic() - started:.0f} s)")
    _words_fill()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE helpcenter_articleversion")
    return articles * len(languages)


def _words_fill() -> None:
    """The words searches correct typos to, as publishing adds them (helpcenter.services)."""
    from django.db import connection

    from helpcenter.services import search_words_rebuild

    started = time.monotonic()
    count = search_words_rebuild()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE helpcenter_searchword")
    harness.step(f"{count:,} search words ({time.monotonic() - started:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=20, help="runs of every search")
    harness.add_output_arguments(parser)
    args = parser.parse_args()
    started = time.monotonic()
    harness.yardsticks()  # before the benchmark's own load, once for the process
    harness.test_client_django_setup(database=DATABASE)
    from urllib.parse import urlencode

    from django.contrib.auth import get_user_model
    from django.test import Client

    total = generate(versions=args.versions)
    user, _ = get_user_model().objects.get_or_create(username="bench-supervisor",
                                                     defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)

    harness.step("searches")
    latencies: list[float] = []
    by_query: dict[str, tuple[float, int]] = {}
    for language, query in SEARCHES:
        url = "/api/v1/help/articles/?" + urlencode({"q": query, "language": language})
        client.get(url)  # warm
        runs, response = timed(client, url, args.repeat)
        latencies += runs
        by_query[f"{language}:{query}"] = (statistics.median(runs), len(response.json()["results"]))

    print()
    print("Help-center search, through the REST endpoint (in process, no network)")
    harness.yardstick_header()
    print(f"  {harness.machine_line()}; PostgreSQL on the same machine")
    print(f"  data: {total:,} published article versions in {len(VOCABULARY)} languages "
          f"({', '.join(VOCABULARY)}); {len(SEARCHES)} searches x {args.repeat} runs")
    print()
    p95 = harness.percentile(latencies, 0.95)
    harness.table([
        ["request", "runs", "p50", "p95", "p99", "target p95", "met"],
        ["article search", f"{len(latencies):,}", f"{statistics.median(latencies):.1f} ms", f"{p95:.1f} ms",
         f"{harness.percentile(latencies, 0.99):.1f} ms", f"< {TARGET_MS:g} ms",
         "yes" if p95 < TARGET_MS else "NO"],
    ])
    empty = [query for query, (_, hits) in by_query.items() if not hits]
    print(f"  searches with no result: {empty or 'none'}")
    slowest = sorted(by_query.items(), key=lambda item: -item[1][0])[:4]
    print("  slowest searches (median): " + ", ".join(f"{query!r} {ms:.1f} ms" for query, (ms, _) in slowest))
    print("  against the yardsticks (p50, wall time in this process): "
          + harness.duration("search p50", statistics.median(latencies)))
    print(f"  wall time: {(time.monotonic() - started) / 60:.1f} min")
    harness.json_write(args, benchmark="helpcenter", consistent=not empty)
    if p95 >= TARGET_MS:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
