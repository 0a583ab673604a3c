"""The supervisors' live view: queues, agents and conversations at risk, updating live.

The page renders the first snapshot itself (so it is useful before, or without, the
socket), then static/desk/live.js follows `/ws/agent/`, where the `supervisor_live_push`
task sends a fresh snapshot every couple of seconds to the `supervisors` group. The
figures come from `selectors.supervisor_snapshot` only; this module puts them into words
(durations, shares, loads) for the page and for the pushed snapshots alike, so live.js only
writes the words it is given: one place formats them.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext
from django.views.decorators.http import require_GET

from conversations import access, selectors
from conversations.supervision import PRESENCE_LABELS
from routing.models import CHANNELS, Presence


def duration_text(seconds: int | float | None) -> str:
    """1m 05s, 2h 03m, 42s: short enough for a table cell."""
    if seconds is None:
        return "—"
    seconds = max(int(seconds), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.0f} %"


def _share_of_count(share: float | None, count: int) -> str:
    """"8 % (3)": a share and the count behind it; "—" while there is nothing to share."""
    return "—" if share is None else f"{_percent(share)} ({count})"


def _load_text(load: dict[str, int], capacity: dict[str, int]) -> str:
    """"chat 1/3 · email 0/5": the channels the agent may take, or holds something on."""
    parts = [f"{channel} {load.get(channel, 0)}/{capacity.get(channel, 0)}" for channel in CHANNELS
             if capacity.get(channel, 0) or load.get(channel, 0)]
    return " · ".join(parts) or "—"


def _at_capacity(load: dict[str, int], capacity: dict[str, int]) -> bool:
    """Full on some channel: routing offers that agent nothing more there."""
    return any(load.get(channel, 0) >= limit for channel, limit in capacity.items() if limit)


def live_rows(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The snapshot as the three tables show it: its figures, and beside them their words."""
    return {
        "at": snapshot["at"],
        "queues": [{**queue, "longest_wait": duration_text(queue["longest_wait_seconds"]),
                    "service_level": _percent(queue["service_level_today"]),
                    "target_wait": duration_text(queue["target_wait_seconds"]),
                    "answer_speed": duration_text(queue["answer_seconds_today"]),
                    "abandonment": _share_of_count(queue["abandonment_today"], queue["abandoned_today"]),
                    "satisfaction": _share_of_count(queue["satisfaction_today"], queue["rated_today"])}
                   for queue in snapshot["queues"]],
        "agents": [{**agent, "load_text": _load_text(agent["load"], agent["capacity"]),
                    "at_capacity": _at_capacity(agent["load"], agent["capacity"]),
                    # Time today in each presence, in `Presence` order (the columns' order).
                    "presence_today": [duration_text(agent["presence_seconds_today"].get(presence, 0))
                                       for presence in Presence.values]}
                   for agent in snapshot["agents"]],
        "agents_by_presence": snapshot["agents_by_presence"],
        "at_risk": [{**item, "waited": duration_text(item["waited_seconds"]),
                     "target_wait": duration_text(item["target_wait_seconds"])}
                    for item in snapshot["at_risk"]],
    }


@require_GET
def live(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not access.is_supervisor(request.user):
        return render(request, "desk/live_forbidden.html", status=403)
    snapshot = selectors.supervisor_snapshot()
    return render(request, "desk/live.html", {"live": live_rows(snapshot), "live_labels": live_labels(),
                                              "presence_headings": presence_headings()})


def live_labels() -> dict[str, Any]:
    """The words static/desk/live.js writes, in the supervisor's language (JS has no gettext)."""
    return {"live": gettext("live"), "reconnecting": gettext("reconnecting…"),
            "stopped": gettext("signed out: reload the page to sign in again"),
            "full": gettext("full"), "breached": gettext("breached"),
            "no_queues": gettext("No active queues."), "no_agents": gettext("No agent is online or away."),
            "no_risk": gettext("Nobody is close to their queue’s target wait."),
            "presences": {presence: str(PRESENCE_LABELS[presence]) for presence in Presence.values}}


def presence_headings() -> list[str]:
    """The agents table's headings of time today in each presence, in `Presence` order (the
    order of each agent's `presence_today`)."""
    return [gettext("%(presence)s today") % {"presence": PRESENCE_LABELS[presence]}
            for presence in Presence.values]
