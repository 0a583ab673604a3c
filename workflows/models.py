"""Workflows: what supervisors automate (trigger, conditions, ordered steps), the versions
they published, and every run with each of its steps.

A workflow's definition lives in immutable versions: editing publishes a new version and a
run finishes on the version it started on. Runs are unique per workflow and run key, so an
event delivered twice, a retried task or two workers racing start one run at most.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from timeline.models import Contact


class TriggerType(models.TextChoices):
    EVENT = "event", _("When an event happens")
    TIMER = "timer", _("Some time after an event or a time on the record")
    SCHEDULE = "schedule", _("On a schedule, over a segment")


class Workflow(models.Model):
    key = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    is_enabled = models.BooleanField(default=False)
    current_version = models.ForeignKey(
        "workflows.WorkflowVersion", null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    # Schedules: when the cron expression next fires (kept by the scheduler).
    next_fire_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["next_fire_at"], name="workflow_next_fire",
                         condition=Q(is_enabled=True, next_fire_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return self.name


class WorkflowVersion(models.Model):
    """One published definition of a workflow. Never changed once saved.

    trigger:
      {"type": "event", "kinds": ["order.delayed", ...]}
      {"type": "timer", "kinds": [...], "minutes": 15}                  N minutes after the event
      {"type": "timer", "kinds": [...], "at": "order.promised_at", "minutes": 15}
                                                                        15 minutes past a time
      {"type": "schedule", "cron": "0 9 * * 1", "segment": <segment id>, "timezone": "UTC"}
    conditions: a supportdesk.conditions condition over workflows.attributes names
    steps: [{"action": "send_message", "params": {...}}, ...]
    """

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    trigger = models.JSONField(default=dict)
    trigger_type = models.CharField(max_length=16, choices=TriggerType.choices, editable=False)
    # The timeline kinds the trigger listens to (derived from `trigger`, for the consumer).
    event_kinds = ArrayField(models.CharField(max_length=48), default=list, blank=True,
                             editable=False)
    conditions = models.JSONField(default=dict, blank=True)
    steps = models.JSONField(default=list)
    # Exactly once: "" is one run per workflow and subject ("{workflow}:{subject}"); a
    # template such as "{workflow}:{order}" or "{workflow}:{contact}" says otherwise.
    run_key = models.CharField(max_length=200, blank=True)
    # At most limit_count runs that acted per contact in limit_days (none: no limit).
    limit_count = models.PositiveSmallIntegerField(null=True, blank=True)
    limit_days = models.PositiveSmallIntegerField(null=True, blank=True)
    max_depth = models.PositiveSmallIntegerField(null=True, blank=True,
                                                 help_text=_("Empty: the desk's default."))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workflow", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "number"], name="workflow_version_number"),
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id} v{self.number}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise TypeError("Workflow versions are immutable: publish a new one.")
        super().save(*args, **kwargs)


class RunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    WAITING = "waiting", _("Waiting")
    DONE = "done", _("Done")
    STOPPED = "stopped", _("Stopped: a condition no longer held")
    SKIPPED = "skipped", _("Skipped by the per-contact limit")
    FAILED = "failed", _("Failed")


# Not checked by the database (db_constraint=False), for the foreign keys written once per run,
# step or timer: the workflow and its version (one hot parent row that parallel transactions lock
# for every run, a multixact each time) and a step's run (a lock, so a WAL record, on the run
# just inserted). Over a 1,000,000-member firing those checks took about 23 of 73 s. Nothing
# here can dangle: workflows and versions are never deleted (the admin disables them), and a
# run's steps are written with the run or under its row lock, and deleted with it.
UNCHECKED = {"db_constraint": False}


class WorkflowRun(models.Model):
    # As few indexes as its queries need: a million-run firing maintains every one of them.
    # No index of its own: the run key's and the others lead with the workflow.
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="runs", db_index=False,
                                 **UNCHECKED)
    # No index: runs are never looked up by version (versions are never deleted).
    version = models.ForeignKey(WorkflowVersion, on_delete=models.PROTECT, related_name="runs", db_index=False,
                                **UNCHECKED)
    # Indexed by "workflow_run_by_contact", which leads with it.
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="workflow_runs", db_index=False)
    subject_type = models.CharField(max_length=32, blank=True)  # order, conversation, contact
    subject_id = models.BigIntegerField(null=True, blank=True)
    run_key = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    # What started it: the timeline event (kind, id, occurred_at), the timer or the schedule.
    trigger = models.JSONField(default=dict, blank=True)
    trigger_event_id = models.BigIntegerField(null=True, blank=True)
    # Workflow ids whose runs led to this one (the loop guard), oldest first; depth = len.
    chain = ArrayField(models.IntegerField(), default=list, blank=True)
    position = models.PositiveSmallIntegerField(default=0)  # the next step to do
    resume_at = models.DateTimeField(null=True, blank=True)
    # Held while a step reaches outside (an OMS call, an email): nobody else advances the
    # run until then; a worker killed mid-step leaves it to lapse and the sweeper retries.
    leased_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    summary = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workflow", "run_key"], name="workflow_run_key"),
        ]
        indexes = [
            # A contact's runs, and its runs of a workflow since a time (the per-contact limit).
            models.Index(fields=["contact", "workflow", "-created_at"], name="workflow_run_by_contact"),
            models.Index(fields=["resume_at"], name="workflow_run_resume",
                         condition=Q(status="waiting")),
            models.Index(fields=["created_at"], name="workflow_run_running",
                         condition=Q(status="running")),
            models.Index(fields=["workflow", "status"], name="workflow_run_status"),
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id}:{self.run_key} ({self.status})"


class StepStatus(models.TextChoices):
    STARTED = "started", _("Started")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


class WorkflowRunStep(models.Model):
    run = models.ForeignKey(WorkflowRun, on_delete=models.CASCADE, related_name="steps",
                            db_index=False, **UNCHECKED)  # the (run, position) constraint's index leads with it
    position = models.PositiveSmallIntegerField()
    action = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=StepStatus.choices, default=StepStatus.STARTED)
    # Carried by the side effect (OMS call, email Message-ID, outbound header): a retry of
    # the step repeats the same key, so the far side does it once.
    # Unique by a constraint, not `unique=True`: no second (LIKE pattern) index to maintain.
    idempotency_key = models.CharField(max_length=255)
    attempts = models.PositiveSmallIntegerField(default=1)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "position"], name="workflow_run_step_position"),
            models.UniqueConstraint(fields=["idempotency_key"], name="workflow_run_step_key"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.position} {self.action} ({self.status})"


class WorkflowTimer(models.Model):
    """A timer trigger armed for one subject: fires at `due_at` if the conditions still hold.

    One per workflow and subject: a newer event re-arms it (a promised_at moved later moves
    the timer) instead of adding a second one.
    """

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="timers", **UNCHECKED)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    subject_type = models.CharField(max_length=32, blank=True)
    subject_id = models.BigIntegerField(null=True, blank=True)
    due_at = models.DateTimeField()
    trigger = models.JSONField(default=dict, blank=True)
    trigger_event_id = models.BigIntegerField(null=True, blank=True)
    chain = ArrayField(models.IntegerField(), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workflow", "contact", "subject_type", "subject_id"],
                                    name="workflow_timer_subject", nulls_distinct=False),
        ]
        indexes = [models.Index(fields=["due_at"], name="workflow_timer_due")]

    def __str__(self) -> str:
        return f"{self.workflow_id} {self.subject_type}:{self.subject_id} at {self.due_at}"


class WorkflowAudit(models.Model):
    """Who changed a workflow (saved a new version, enabled, disabled it, retried its
    runs), when, and its definition before and after (workflows.audit writes it)."""

    workflow = models.ForeignKey(Workflow, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="audit")
    workflow_key = models.CharField(max_length=64)
    action = models.CharField(max_length=16)  # created, changed, enabled, disabled, retried
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=150)
    at = models.DateTimeField(auto_now_add=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ("-at", "-id")
        indexes = [models.Index(fields=["workflow_key", "-at"], name="workflow_audit_key")]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.workflow_key}"


from workflows.outreach.models import Campaign, CampaignRecipient  # noqa: E402,F401  (this app's models)
from workflows.segments.models import Segment, SegmentMember  # noqa: E402,F401  (this app's models)
from workflows.surveys.models import Survey, SurveySetting  # noqa: E402,F401  (csat: its models live there)
