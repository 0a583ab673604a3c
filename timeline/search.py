"""Contact search for agents: by name, email, phone, external id or order id, tolerant of
accents and partial input, ranked, and answered from the trigram indexes of migration
0002_search.

One query gathers a bounded number of candidates per way of matching (each branch reads one
index, so none of them scans the table); Python ranks the few hundred candidates:

0. the exact external id of the contact, or of an order they are the customer, courier or
   partner of;
1. the exact email; 2. the exact phone number (digits only);
3. a name whose words start with every word typed ("lucia fern" -> "Lucía Fernández");
4. any other part of a name, email, phone or a prefix of the external id;
5. a name merely similar to what was typed (typos), by trigram word similarity.

Within a tier the closer name comes first. Merged contacts are never found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db import connection

from supportdesk.errors import DomainError
from timeline.models import Contact, ContactKind, Order

MIN_QUERY_LENGTH = 2
MAX_QUERY_LENGTH = 100
MAX_LIMIT = 50
# Candidates read per branch; enough to rank, bounded so a common fragment costs no more.
_CONTACT, _ORDER = Contact._meta.db_table, Order._meta.db_table
_BRANCH_LIMIT = 200
# Words shorter than a trigram cannot narrow a trigram index; they are still used to rank.
_MIN_INDEXED_WORD = 3
_MAX_WORDS = 6

# The same expressions the indexes of migration 0002_search are built on.
_NAME = "lower(public.sd_unaccent(c.name))"
_EMAIL = "lower(c.email)"
_PHONE = "regexp_replace(c.phone, '[^0-9]', '', 'g')"
_EXTERNAL_ID = "lower(c.external_id)"
_PHONE_LIKE = re.compile(r"^[\d\s()+./-]+$")


class Match:
    EXTERNAL_ID = "external_id"
    ORDER = "order"
    EMAIL = "email"
    PHONE = "phone"
    NAME = "name"


@dataclass(frozen=True)
class SearchHit:
    contact: Contact
    match: str  # a Match value: what of the contact matched the query best


@dataclass
class _Candidate:
    id: int
    branch: str
    name: str
    email: str
    phone: str
    external_id: str
    similarity: float


def _query_clean(query: str) -> str:
    text = " ".join(query.split())
    if len(text) < MIN_QUERY_LENGTH:
        raise DomainError(
            f"q: Type at least {MIN_QUERY_LENGTH} characters to search.",
            code="query_too_short",
            details={"q": [f"Type at least {MIN_QUERY_LENGTH} characters to search."]},
        )
    if len(text) > MAX_QUERY_LENGTH:
        raise DomainError(
            f"q: A search is at most {MAX_QUERY_LENGTH} characters long.",
            code="query_too_long",
            details={"q": [f"A search is at most {MAX_QUERY_LENGTH} characters long."]},
        )
    return text


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contact_search(*, query: str, kind: str | None = None, limit: int = 20) -> list[SearchHit]:
    """The contacts best matching `query`, best first, at most `limit` (up to 50)."""
    text = _query_clean(query)
    if kind is not None and kind not in ContactKind.values:
        raise DomainError(
            f"kind: Unknown kind {kind!r}; use one of {', '.join(ContactKind.values)}.",
            details={"kind": [f"Unknown kind {kind!r}."]},
        )
    limit = max(1, min(limit, MAX_LIMIT))
    with connection.cursor() as cursor:
        # Normalised by PostgreSQL itself, so the query and the indexed text agree exactly.
        cursor.execute("SELECT lower(public.sd_unaccent(%s)), lower(%s)", [text, text])
        normalised, lowered = cursor.fetchone()
        sql, params = _candidates_sql(normalised=normalised, lowered=lowered, raw=text, kind=kind)
        cursor.execute(sql, params)
        candidates = [_Candidate(*row) for row in cursor.fetchall()]
    ranked = _rank(candidates, normalised=normalised, lowered=lowered, raw=text)[:limit]
    contacts = Contact.objects.select_related("current_order").in_bulk([pk for pk, _ in ranked])
    return [SearchHit(contact=contacts[pk], match=match) for pk, match in ranked]


def _candidates_sql(
    *, normalised: str, lowered: str, raw: str, kind: str | None
) -> tuple[str, dict[str, Any]]:
    columns = (
        f"c.id, %(branch)s, {_NAME}, {_EMAIL}, {_PHONE}, {_EXTERNAL_ID}, "
        f"word_similarity(%(normalised)s, {_NAME})"
    )
    scope = "c.merged_into_id IS NULL" + (" AND c.kind = %(kind)s" if kind else "")
    params: dict[str, Any] = {"normalised": normalised, "lowered": lowered, "kind": kind}
    branches: list[str] = []

    def branch(name: str, condition: str, source: str = f"{_CONTACT} c") -> None:
        params[f"branch_{name}"] = name
        branches.append(
            f"(SELECT {columns.replace('%(branch)s', f'%(branch_{name})s')} FROM {source} "
            f"WHERE {condition} AND {scope} LIMIT {_BRANCH_LIMIT})"
        )

    params["id_prefix"] = _like_escape(lowered) + "%"
    branch(Match.EXTERNAL_ID, f"{_EXTERNAL_ID} LIKE %(id_prefix)s")
    branch(
        Match.ORDER,
        "lower(o.external_id) = %(lowered)s",
        source=f"{_ORDER} o JOIN {_CONTACT} c ON c.id IN (o.customer_id, o.courier_id, o.partner_id)",
    )
    if len(lowered) >= _MIN_INDEXED_WORD:
        params["email_part"] = "%" + _like_escape(lowered) + "%"
        branch(Match.EMAIL, f"{_EMAIL} LIKE %(email_part)s")
    digits = re.sub(r"\D", "", raw)
    if _PHONE_LIKE.match(raw) and len(digits) >= _MIN_INDEXED_WORD:
        params["phone_part"] = "%" + digits + "%"
        branch(Match.PHONE, f"{_PHONE} LIKE %(phone_part)s")
    words = normalised.split()[:_MAX_WORDS]
    indexed = [word for word in words if len(word) >= _MIN_INDEXED_WORD]
    if indexed:
        conditions = []
        for number, word in enumerate(indexed):
            params[f"word_{number}"] = "%" + _like_escape(word) + "%"
            conditions.append(f"{_NAME} LIKE %(word_{number})s")
        branch(Match.NAME, " AND ".join(conditions))
        # Typos: names similar to what was typed, by the best matching part of the name.
        branch("similar", f"%(normalised)s <%% {_NAME}")
    elif words:
        # Only short words ("jo"): names starting with them.
        params["name_prefix"] = _like_escape(normalised) + "%"
        branch(Match.NAME, f"{_NAME} LIKE %(name_prefix)s")
    return " UNION ALL ".join(branches), params


def _starts_words(name: str, words: list[str]) -> bool:
    name_words = re.split(r"\W+", name)
    return all(any(part.startswith(word) for part in name_words) for word in words)


def _tier(candidate: _Candidate, *, normalised: str, lowered: str, raw: str) -> tuple[int, str]:
    if candidate.branch == Match.ORDER:
        return 0, Match.ORDER
    if candidate.branch == Match.EXTERNAL_ID:
        return (0 if candidate.external_id == lowered else 4), Match.EXTERNAL_ID
    if candidate.branch == Match.EMAIL:
        return (1 if candidate.email == lowered else 4), Match.EMAIL
    if candidate.branch == Match.PHONE:
        return (2 if candidate.phone == re.sub(r"\D", "", raw) else 4), Match.PHONE
    if candidate.branch == Match.NAME:
        return (3 if _starts_words(candidate.name, normalised.split()) else 4), Match.NAME
    return 5, Match.NAME


def _rank(
    candidates: list[_Candidate], *, normalised: str, lowered: str, raw: str
) -> list[tuple[int, str]]:
    """(contact id, match) best first: the best tier any branch gave a contact, then the
    closer name, then the shorter name, then the id (so the order is stable)."""
    best: dict[int, tuple[tuple[int, float, int, int], str]] = {}
    for candidate in candidates:
        tier, match = _tier(candidate, normalised=normalised, lowered=lowered, raw=raw)
        key = (tier, -candidate.similarity, len(candidate.name), candidate.id)
        if candidate.id not in best or key < best[candidate.id][0]:
            best[candidate.id] = (key, match)
    return [(pk, match) for pk, (_, match) in sorted(best.items(), key=lambda item: item[1][0])]
