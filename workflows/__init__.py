"""Workflows: automations that act first (event, timer and schedule triggers; conditions;
ordered steps run exactly once), plus segments, outreach and satisfaction surveys.

The engine, in short (details in each module's docstring):

- `definitions`: a workflow's JSON (trigger, conditions, steps, run key, limit) and what is
  wrong with it; `attributes`: what conditions test, per scope; `templates`: messages per
  language; `registry`: the actions and channels steps use (integrations register theirs).
- `services.publish`: `workflow_save` (every change a new version), enable, disable.
- `services.triggers`: the timeline outbox's consumer (events -> runs, timers armed and
  moved), `timers_fire`; `services.schedules`: cron over a segment, runs set-based.
- `services.runs`: `run_start` (run key, per-contact limit), `run_advance` (steps with
  idempotency keys; a kill anywhere and a retry never repeat a side effect), `run_retry`.
- `services.dry_run`: what a draft would have done over the last N days, writing nothing.
- `selectors.workflow_stats`; `tasks.workflows_tick` on the beat every second.
"""
