"""Who may see and touch routing's objects: one module, asked by every entry point.

Agents are users with an agent profile; supervisors are the core's one definition
(supportdesk.access). A work item is an agent's while it is offered or assigned to
them; a supervisor may see any. Not found and not yours answer the same 404.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from routing.models import AgentProfile, WorkItem
from supportdesk.access import is_supervisor
from supportdesk.errors import NotFound


def is_agent(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active
                and AgentProfile.objects.filter(user_id=user.pk).exists())


def access_work_item(*, user: Any, item_id: int) -> WorkItem:
    """The work item, if this user may see it: a supervisor any, an agent one offered or
    assigned to them now."""
    items = WorkItem.objects.filter(pk=item_id)
    if not is_supervisor(user):
        items = items.filter(agent__user_id=getattr(user, "pk", None))
    item = items.first()
    if item is None:
        raise NotFound(gettext("Work item %(id)s does not exist.") % {"id": item_id})
    return item


def access_work_item_to_decline(*, user: Any, item_id: int) -> WorkItem:
    """As `access_work_item`, and also an item this agent declined already, so that a decline
    sent again (a retry after a timeout) answers as the first did instead of a 404."""
    profile_id = (AgentProfile.objects.filter(user_id=getattr(user, "pk", None))
                  .values_list("pk", flat=True).first())
    if profile_id is not None:
        declined = WorkItem.objects.filter(pk=item_id, declined_by__contains=[profile_id]).first()
        if declined is not None:
            return declined
    return access_work_item(user=user, item_id=item_id)


class IsAgent(BasePermission):
    """The calling agent's own routing (presence, heartbeat, offers): agents only."""

    message = _("Only agents (users with an agent profile) may do this.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_agent(request.user)
