"""The core's roles, as permissions every layer checks (through supportdesk.access)."""

from django.db import models
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
