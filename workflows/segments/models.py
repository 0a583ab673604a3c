"""Segments: saved filters over contacts, and their members kept up to date as events arrive."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Segment(models.Model):
    """A saved filter over contacts (the workflows' contact conditions, plus "had a delayed
    order / a low rating / a conversation in the last N days"). Its members are materialised
    in `SegmentMember`, so a scheduled workflow or a campaign reads them without evaluating
    anything, and `segment.entered` / `segment.left` events say when someone joined or left.
    """

    name = models.CharField(_("name"), max_length=200)
    key = models.SlugField(
        _("key"), max_length=100, unique=True,
        help_text=_("What workflows and campaigns name the segment by, e.g. unhappy-high-value."),
    )
    description = models.TextField(_("description"), blank=True)
    conditions = models.JSONField(
        _("conditions"), default=dict, blank=True,
        help_text=_('Contact conditions, e.g. {"all": [{"attribute": "lifetime_order_value", "op": "gte", '
                    '"value": 300}, {"attribute": "last_rating", "op": "lte", "value": 2}]}. '
                    "An empty condition matches nobody: add members by hand or by a workflow."),
    )
    is_active = models.BooleanField(
        _("active"), default=True,
        help_text=_("Inactive segments keep their members but are no longer kept up to date."),
    )
    feed_queue = models.ForeignKey(
        "routing.Queue", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("feeds queue"),
        help_text=_("Open one task per member in this queue, for agents to audit (once per contact)."),
    )
    refreshed_at = models.DateTimeField(_("last full evaluation"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "workflows"
        ordering = ["name"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")

    def __str__(self) -> str:
        return self.name


class SegmentMember(models.Model):
    """A contact in a segment: because its conditions hold (`matched`), because a person or
    a workflow added them (`manual`: they stay until removed), or both. The row exists while
    either is true; its creation and deletion are the entered / left events."""

    # No index of its own: the unique (segment, contact) index serves every lookup by segment.
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="members", db_index=False)
    contact = models.ForeignKey("timeline.Contact", on_delete=models.CASCADE, related_name="+")
    matched = models.BooleanField(default=False)
    manual = models.BooleanField(default=False)
    entered_at = models.DateTimeField()

    class Meta:
        app_label = "workflows"
        verbose_name = _("segment member")
        verbose_name_plural = _("segment members")
        constraints = [
            models.UniqueConstraint(fields=["segment", "contact"], name="segment_member_unique"),
            models.CheckConstraint(condition=models.Q(matched=True) | models.Q(manual=True),
                                   name="segment_member_has_reason"),
        ]
        indexes = [models.Index(fields=["contact"], name="segment_member_contact")]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.segment_id}"
