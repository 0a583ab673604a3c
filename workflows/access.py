"""Who may see what of workflows: the one access module its entry points ask.

The workflows admin (workflows, their versions, runs, the audit, the dry run): supervisors
only, by the project's one supervisor permission (supportdesk.access), not `is_staff`.
"""

from __future__ import annotations

from typing import Any

from supportdesk.access import is_supervisor


def may_manage_workflows(user: Any) -> bool:
    """Create, edit, enable, disable, dry-run workflows; read and retry their runs."""
    return is_supervisor(user)
