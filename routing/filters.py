"""Query-string filters for the supervisors' work item list (django-filter)."""

from __future__ import annotations

from django_filters import rest_framework as filters

from routing.models import WorkItem
from supportdesk.api import FilterSet, IdFilter


class WorkItemFilter(FilterSet):
    queue = filters.CharFilter(field_name="queue__key", help_text="The queue's key, e.g. chat.es.")
    agent = IdFilter(field_name="agent_id", help_text="The agent profile id holding the item.")

    class Meta:
        model = WorkItem
        fields = ["state", "queue", "agent", "channel"]
