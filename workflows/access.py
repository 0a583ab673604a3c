"""Who may see what of workflows: the one access module its entry points ask.

The workflows admin (workflows, their versions, runs, the audit, the dry run): supervisors
only, by the project's one supervisor permission (supportdesk.access), not `is_staff`.

Satisfaction ratings (the ratings API): a supervisor sees every rating; an agent only the
ratings of conversations they answered (the survey's agent, who had it when it was
resolved); anyone else none. A survey link's page is public: the signed link is the
access (workflows.surveys.links), checked here like any other entry point's.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from supportdesk.access import is_desk_user, is_supervisor
from workflows.surveys.links import survey_from_token
from workflows.surveys.models import Survey


def may_manage_workflows(user: Any) -> bool:
    """Create, edit, enable, disable, dry-run workflows; read and retry their runs."""
    return is_supervisor(user)


def ratings_visible(user: Any) -> QuerySet[Survey]:
    """The answered surveys this user may see."""
    ratings = Survey.objects.filter(score__isnull=False)
    if is_supervisor(user):
        return ratings
    if not is_desk_user(user):
        return ratings.none()
    return ratings.filter(agent_id=user.pk)


def access_survey_link(*, token: str) -> Survey:
    """The survey a public link names (LinkInvalid / LinkExpired otherwise)."""
    return survey_from_token(token)
