"""A contact's timeline as the API and the contact page read it: the filters they accept,
the shape of an event, and the cursor pagination over it."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any

from django.urls import NoReverseMatch, reverse
from rest_framework import serializers

from supportdesk.api import DefaultCursorPagination, moment_in_utc
from timeline.events import known_kinds
from timeline.models import TimelineEvent
from timeline.selectors import TIMELINE_ORDERING

KIND_PATTERN = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)?$")
MAX_KINDS = 20
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _kind_problem(kind: str) -> str | None:
    if not KIND_PATTERN.match(kind):
        return f"{kind[:60]!r} is not a kind: use e.g. order or order.delayed."
    known = known_kinds()
    families = {name.split(".", 1)[0] for name in known}
    if kind not in known and kind not in families:
        return f"Unknown kind {kind!r}; kinds start with one of {', '.join(sorted(families))}."
    return None


class TimelineQuerySerializer(serializers.Serializer):
    """The filters of a timeline: kinds (exact or a prefix), and a date range."""

    kind = serializers.ListField(
        child=serializers.CharField(max_length=48), required=False, max_length=MAX_KINDS,
        help_text='Exact kinds ("conversation.opened") or prefixes ("order": every order.* kind); '
        "repeat the parameter for several.",
    )
    since = serializers.CharField(
        required=False, help_text="From this moment on (ISO 8601 date or date-time, included)."
    )
    until = serializers.CharField(
        required=False,
        help_text="Up to this moment (ISO 8601; excluded). A date alone includes that whole day.",
    )

    def validate_kind(self, kinds: list[str]) -> list[str]:
        problems = [problem for kind in kinds if (problem := _kind_problem(kind))]
        if problems:
            raise serializers.ValidationError(problems)
        return kinds

    def _moment(self, value: str, *, end_of_day: bool) -> datetime:
        value = value.strip()
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise serializers.ValidationError(
                f"{value[:60]!r} is not an ISO 8601 date or date-time, e.g. 2026-01-31 or "
                "2026-01-31T18:00:00Z."
            ) from None
        try:
            if _DATE_ONLY.match(value):
                moment = datetime.combine(moment.date(), time.min)
                if end_of_day:
                    moment += timedelta(days=1)
            return moment_in_utc(moment)
        except OverflowError:  # the day after 9999-12-31, or year 1 east of UTC
            raise serializers.ValidationError(
                f"{value[:60]!r} is outside the calendar once in UTC (years 1 to 9999).") from None

    def validate_since(self, value: str) -> datetime:
        return self._moment(value, end_of_day=False)

    def validate_until(self, value: str) -> datetime:
        return self._moment(value, end_of_day=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        since, until = attrs.get("since"), attrs.get("until")
        if since is not None and until is not None and since >= until:
            raise serializers.ValidationError({"until": ["until must be later than since."]})
        return attrs


def timeline_query_parse(query: Any) -> dict[str, Any]:
    """Validated keyword arguments for `selectors.timeline_events` from a QueryDict (raises
    ValidationError, which the API and the page both answer with 400)."""
    data = {
        name: query.get(name) for name in ("since", "until") if query.get(name, "").strip()
    }
    kinds = [kind.strip() for kind in query.getlist("kind") if kind.strip()]
    if kinds:
        data["kind"] = kinds
    serializer = TimelineQuerySerializer(data=data)
    serializer.is_valid(raise_exception=True)
    values = serializer.validated_data
    return {"kinds": values.get("kind") or None, "since": values.get("since"),
            "until": values.get("until")}


_LINKS = {"order": "order-detail", "conversation": "conversation-detail"}


def event_api_link(event: TimelineEvent) -> str | None:
    """The API address of the event's object, when the timeline knows what it is."""
    name = _LINKS.get(event.subject_type)
    if name is None or event.subject_id is None:
        return None
    try:
        return reverse(name, args=[event.subject_id])
    except NoReverseMatch:
        return None


class TimelineEventSerializer(serializers.ModelSerializer):
    link = serializers.SerializerMethodField(
        help_text="API address of the event's object (an order, a conversation); null when unknown."
    )

    class Meta:
        model = TimelineEvent
        fields = ["id", "kind", "occurred_at", "actor", "payload", "subject_type", "subject_id", "link"]
        read_only_fields = fields

    def get_link(self, event: TimelineEvent) -> str | None:
        return event_api_link(event)


class TimelinePagination(DefaultCursorPagination):
    """Newest first, by cursor: events written after page 1 was read (they are newer) never
    shift the pages that follow, and a deep page costs what the first one does."""

    page_size = 50
    max_page_size = 200
    ordering = TIMELINE_ORDERING
