from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = "Workflows"

    def ready(self) -> None:
        from workflows.actions import actions_register
        from workflows.services.triggers import triggers_register

        actions_register()
        triggers_register()

        from workflows.segments.services import membership_register

        membership_register()  # segments follow the timeline's events
        from workflows.outreach import admin as outreach_admin  # noqa: F401  (registers it)
        from workflows.segments import admin as segments_admin  # noqa: F401  (registers it)
