"""A contact's satisfaction figures (last rating, 90-day average, count), from the timeline.

The `rating.given` events are the record (timeline.events.rating_given_event): one per answer,
and a new one each time an answer is changed. The rating that stands for a survey is its
latest event; it counts in the 90-day average by when it was first given (`rated_at`). So
the figures are one statement over the events, for any number of contacts at once, and stay
right when a rating changes (its newer event replaces the older in the DISTINCT ON).

Ratings leave the 90-day window without any new event: `contacts_ratings_refresh()` without
ids recomputes every contact that still has an average (a daily beat task).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from timeline.models import Contact, TimelineEvent

RATING_KIND = "rating.given"
AVERAGE_DAYS = 90
CHUNK = 5000


def contacts_ratings_refresh(*, contact_ids: Sequence[int] | None = None, now: datetime | None = None) -> int:
    """Recompute last_rating, last_rated_at, rating_avg_90d and rating_count of these contacts
    (None: every contact with a 90-day average, whose ratings may have aged out) from their
    rating events; the number of contacts whose figures changed."""
    now = now or timezone.now()
    if contact_ids is None:
        ids = list(Contact.objects.filter(rating_avg_90d__isnull=False).values_list("pk", flat=True))
    else:
        ids = sorted(set(contact_ids))
    changed = 0
    for start in range(0, len(ids), CHUNK):
        changed += _refresh(ids[start:start + CHUNK], since=now - timedelta(days=AVERAGE_DAYS))
    return changed


def _refresh(ids: list[int], *, since: datetime) -> int:
    quote = connection.ops.quote_name
    contacts, events = quote(Contact._meta.db_table), quote(TimelineEvent._meta.db_table)
    sql = f"""
        WITH standing AS (
            SELECT DISTINCT ON (e.contact_id, e.payload->>'survey')
                   e.contact_id, (e.payload->>'score')::smallint AS score,
                   coalesce((e.payload->>'rated_at')::timestamptz, e.occurred_at) AS rated_at
              FROM {events} e
             WHERE e.contact_id = ANY(%(ids)s) AND e.kind = %(kind)s
             ORDER BY e.contact_id, e.payload->>'survey', e.occurred_at DESC, e.id DESC
        ), figures AS (
            SELECT contact_id, count(*) AS rating_count,
                   round(avg(score) FILTER (WHERE rated_at >= %(since)s), 2) AS average,
                   (array_agg(score ORDER BY rated_at DESC))[1] AS last_rating,
                   max(rated_at) AS last_rated_at
              FROM standing GROUP BY contact_id
        ), wanted AS (
            SELECT ids.id, f.rating_count, f.average, f.last_rating, f.last_rated_at
              FROM unnest(%(ids)s::bigint[]) AS ids(id) LEFT JOIN figures f ON f.contact_id = ids.id
        )
        UPDATE {contacts} c
           SET rating_count = coalesce(w.rating_count, 0), rating_avg_90d = w.average,
               last_rating = w.last_rating, last_rated_at = w.last_rated_at
          FROM wanted w
         WHERE c.id = w.id
           AND (c.rating_count, c.rating_avg_90d, c.last_rating, c.last_rated_at)
               IS DISTINCT FROM (coalesce(w.rating_count, 0), w.average, w.last_rating, w.last_rated_at)
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, {"ids": ids, "kind": RATING_KIND, "since": since})
        return cursor.rowcount
