from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = _("Workflows")

    def ready(self) -> None:
        from supportdesk.model_names import model_names_translate
        from workflows.actions import actions_register
        from workflows.outreach import admin as outreach_admin  # noqa: F401  (registers it)
        from workflows.segments import admin as segments_admin  # noqa: F401  (registers it)
        from workflows.segments.services import membership_register
        from workflows.services.triggers import triggers_register
        from workflows.surveys import surveys_ready

        model_names_translate(self)
        actions_register()
        triggers_register()
        surveys_ready()
        membership_register()  # segments follow the timeline's events
