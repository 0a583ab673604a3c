from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = _("Reports")

    def ready(self) -> None:
        from reports.demo import demo_step_register
        from reports.rollups import consumers_register

        consumers_register()
        demo_step_register()
