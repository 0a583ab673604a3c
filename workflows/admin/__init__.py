"""Supervisors' workflows admin: workflows (every save a new version, enable, disable,
statistics, a dry run writing nothing), their runs (each step's outcome; failed runs retried)
and the audit of every edit. Supervisors only (workflows.access).

One module per admin; importing them registers them.
"""

from workflows.admin import audit, runs, workflows  # noqa: F401  (registers them)
