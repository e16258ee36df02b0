"""Background jobs: an admin upload's dry run and import, run by the queue's worker
(events/tasks.py) and followed by the curator on the job's page."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from .base import choices_constraint


class JobState(models.TextChoices):
    QUEUED = "queued", "Waiting for the worker"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ImportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    JSON = "json", "JSON"


class ImportJobQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The jobs a user may follow: their own; every job for a superuser."""
        return self if user.is_superuser else self.filter(user=user)

    def unfinished(self):
        return self.filter(state__in=[JobState.QUEUED, JobState.RUNNING])


class ImportJob(models.Model):
    """One run of an uploaded file through `events.importing.run_import`: a dry run, or the
    import that confirms one. The report is kept once the job ends; the upload itself only as
    long as a job still needs it (`upload` is then emptied)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="import_jobs",
        help_text="Who uploaded the file: the history records of the import name them.",
    )
    file_name = models.CharField(max_length=255, help_text="The file's name as uploaded.")
    file_size = models.BigIntegerField(help_text="Bytes.")
    format = models.CharField(max_length=4, choices=ImportFormat.choices)
    upload = models.CharField(
        max_length=100,
        blank=True,
        help_text="The stored upload's name in IMPORT_UPLOAD_DIR; empty once it is deleted.",
    )
    options = models.JSONField(
        default=dict, help_text="create_actors, skip_duplicates and publish, each true or false."
    )
    dry_run = models.BooleanField(help_text="Validate and report only; write nothing.")
    confirms = models.OneToOneField(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="confirmation",
        help_text="The dry run this import confirms (one import per dry run).",
    )
    state = models.CharField(max_length=10, choices=JobState.choices, default=JobState.QUEUED)
    worker = models.CharField(
        max_length=200,
        blank=True,
        help_text="host:pid of the worker running it; a worker that starts on the same host "
        "fails the jobs of one that died.",
    )
    rows_read = models.BigIntegerField(default=0, help_text="Rows read when the job ended.")
    report = models.JSONField(
        null=True,
        blank=True,
        help_text="counts, problems (as text), duplicates, and their totals (see events/tasks.py).",
    )
    message = models.TextField(blank=True, help_text="Why the job failed.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            choices_constraint("state", JobState, "importjob"),
            choices_constraint("format", ImportFormat, "importjob"),
            models.CheckConstraint(
                condition=Q(confirms__isnull=True) | Q(dry_run=False),
                name="importjob_confirmation_is_an_import",
                violation_error_message="Only an import confirms a dry run.",
            ),
            models.CheckConstraint(
                condition=Q(state=JobState.FAILED) | Q(message=""),
                name="importjob_message_only_on_failure",
                violation_error_message="Only a failed job has a failure's message.",
            ),
        ]
        indexes = [
            # A curator's recent jobs on the import page: WHERE user_id = … ORDER BY created_at.
            models.Index(fields=["user", "-created_at"], name="importjob_user_created_idx"),
            # The worker's start and the cleanup: WHERE state IN ('queued', 'running').
            models.Index(fields=["state"], name="importjob_state_idx"),
        ]

    def __str__(self):
        return f"{'Dry run' if self.dry_run else 'Import'} of {self.file_name} ({self.state})"

    def get_absolute_url(self):
        return reverse("admin:events_event_import_job", args=[self.pk])

    @property
    def finished(self):
        return self.state in (JobState.DONE, JobState.FAILED)

    @property
    def problems(self):
        return bool(self.report and self.report.get("problems"))

    @property
    def confirmable(self):
        """A dry run that ended without problems, whose upload is still kept, not yet
        confirmed: the curator may import it."""
        return (
            self.dry_run
            and self.state == JobState.DONE
            and not self.problems
            and bool(self.upload)
            and not hasattr(self, "confirmation")
        )
