"""The core's roles, as permissions every layer checks (through supportdesk.access), and the
outbox the layers' events leave through (supportdesk.outbox)."""

from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _


class Access(models.Model):
    """No table: a holder for the desk-wide permissions, which need a model to hang on.

    They are the core's (not conversations' or routing's) because every layer asks them,
    and a lower layer may not import a higher one.
    """

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("supervise", _("Supervise: see and act on every conversation, queue and contact")),
            ("integrate", _("Integration: post customer messages through the API")),
        ]
        verbose_name = _("access")

    def __str__(self) -> str:
        return str(self._meta.verbose_name)


class OutboxEntry(models.Model):
    """One row of a producer's stream that one consumer has yet to apply (supportdesk.outbox).

    Written in the producer's transaction, deleted in the consumer's: the table holds only
    what is pending, and what was parked after failing `OUTBOX_MAX_ATTEMPTS` times.
    """

    stream = models.CharField(_("stream"), max_length=64, help_text=_("What produced it, e.g. routing's history."))
    consumer = models.CharField(_("consumer"), max_length=64)
    ref_id = models.BigIntegerField(_("row id"), help_text=_("The id of the producer's row."))
    created_at = models.DateTimeField(_("created at"), db_default=Now())
    attempts = models.PositiveSmallIntegerField(_("attempts"), db_default=0)
    last_error = models.TextField(_("last error"), blank=True, db_default="")
    parked_at = models.DateTimeField(
        _("parked at"), null=True, blank=True,
        help_text=_("Set aside after failing too often; the rest of the stream flows on."))

    class Meta:
        verbose_name = _("outbox entry")
        verbose_name_plural = _("outbox entries")
        indexes = [
            # The drain's query: a consumer's oldest entries still in the stream.
            models.Index(fields=["consumer", "id"], name="outbox_pending",
                         condition=models.Q(parked_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.stream} {self.ref_id} for {self.consumer}"
