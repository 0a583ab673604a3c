"""The admin's door for an app's own rule: a ModelAdmin mixin whose every permission is one
check of the app's access module (the project's supervisor permission, say), whatever Django
model permissions a staff account holds."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class AccessRuleAdminMixin:
    """Set `access_rule` (user -> bool) to the app's check: those it admits see, add, change and
    delete; every other staff account sees nothing."""

    access_rule: Any = None  # a function of the user, as a staticmethod

    def _admitted(self, request: HttpRequest) -> bool:
        return bool(self.access_rule(request.user))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._admitted(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._admitted(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._admitted(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._admitted(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._admitted(request)
