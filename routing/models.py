"""Who can take which work. The matching engine, queues and rules come with the routing issue."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models


class AgentProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile"
    )
    languages = ArrayField(
        models.CharField(max_length=16), default=list, blank=True,
        help_text="Languages the agent works in, native first (e.g. es, ca, en).",
    )
    contact_kinds = ArrayField(
        models.CharField(max_length=16), default=list, blank=True,
        help_text="customer, courier, partner",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user} ({', '.join(self.languages)})"
