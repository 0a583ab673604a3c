"""The workflows admin is for supervisors only: the project's one supervisor permission
(supportdesk.access), whatever Django model permissions a staff account holds."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from supportdesk.admin_access import AccessRuleAdminMixin
from workflows.access import may_manage_workflows


class SupervisorOnlyAdminMixin(AccessRuleAdminMixin):
    """Supervisors see, add, change and delete; every other staff account sees nothing."""

    access_rule = staticmethod(may_manage_workflows)


class SupervisorReadOnlyAdminMixin(SupervisorOnlyAdminMixin):
    """Records the engine writes (runs, the audit): supervisors look, never edit."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SupervisorReadOnlyInlineMixin(SupervisorReadOnlyAdminMixin):
    """An inline of records nobody edits (versions, a run's steps), shown to supervisors."""

    def has_module_permission(self, request: HttpRequest) -> bool:  # not used by inlines
        return False
