from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SupportdeskConfig(AppConfig):
    name = "supportdesk"
    verbose_name = _("Support desk core")

    def ready(self) -> None:
        from django.db import models

        from supportdesk.db import InArray
        from supportdesk.model_names import model_names_translate

        model_names_translate(self)
        for field in (models.IntegerField, models.ForeignKey):
            field.register_lookup(InArray)
