from django.apps import AppConfig


class SupportdeskConfig(AppConfig):
    name = "supportdesk"
    verbose_name = "Support desk core"

    def ready(self) -> None:
        from django.db import models

        from supportdesk.db import InArray

        for field in (models.IntegerField, models.ForeignKey):
            field.register_lookup(InArray)
