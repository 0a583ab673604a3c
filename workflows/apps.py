from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = "Workflows"

    def ready(self) -> None:
        from workflows.actions import actions_register
        from workflows.services.triggers import triggers_register
        from workflows.surveys import surveys_ready

        actions_register()
        triggers_register()
        surveys_ready()
