from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TimelineConfig(AppConfig):
    name = "timeline"
    verbose_name = _("Contacts and timeline")

    def ready(self) -> None:
        from supportdesk.model_names import model_names_translate

        model_names_translate(self)
