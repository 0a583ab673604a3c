from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HelpCenterConfig(AppConfig):
    name = "helpcenter"
    verbose_name = _("Help center")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from helpcenter.demo import demo_step_register
        from helpcenter.suggestions import suggestions_source_register
        from supportdesk.model_names import model_names_translate

        model_names_translate(self)
        demo_step_register()
        suggestions_source_register()
