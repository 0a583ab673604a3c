from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = _("Routing")

    def ready(self) -> None:
        from routing import schedules, services
        from routing.access import is_agent
        from routing.models import BusinessHours, Holiday, OpeningInterval, Queue, RoutingRule, RuleCondition
        from supportdesk.access import desk_role_register
        from supportdesk.model_names import model_names_translate

        model_names_translate(self)
        # Agents are routing's; the core (and the timeline beside routing) learn of them here.
        desk_role_register("agent", is_agent)

        # A supervisor's save takes effect in this process at once; others within
        # ROUTING_CONFIG_SECONDS.
        for model in (Queue, RoutingRule, RuleCondition):
            post_save.connect(services.routing_config_clear, sender=model,
                              dispatch_uid=f"routing-config-{model.__name__}-save")
            post_delete.connect(services.routing_config_clear, sender=model,
                                dispatch_uid=f"routing-config-{model.__name__}-delete")
        # Which queue keeps which hours, and the hours themselves (routing.schedules).
        for model in (Queue, BusinessHours, OpeningInterval, Holiday):
            post_save.connect(schedules.schedules_clear, sender=model,
                              dispatch_uid=f"routing-schedules-{model.__name__}-save")
            post_delete.connect(schedules.schedules_clear, sender=model,
                                dispatch_uid=f"routing-schedules-{model.__name__}-delete")
