"""Import from a file in the admin: the upload form, and what the page of an import job shows
(events/tasks.py runs the jobs; events/importing.py does the work)."""

from pathlib import Path

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from ..models import Event, JobState
from ..tasks import IMPORT_FORMATS, REPORT_MAX_ITEMS, progress_of

# The job's page reloads itself this often while the job waits or runs.
REFRESH_SECONDS = 2
# The import page lists the user's latest jobs.
RECENT_IMPORTS = 10


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="CSV with the export's columns, or JSON as the API gives events "
        "(one object or a list); UTF-8."
    )
    create_actors = forms.BooleanField(
        required=False,
        label="Create actors",
        help_text="Create actors the database does not have from their name and kind in the "
        "file (otherwise an unknown actor is an error).",
    )
    skip_duplicates = forms.BooleanField(
        required=False,
        label="Skip duplicates",
        help_text="Leave out new events that look like existing ones (same kind, overlapping "
        "dates, same initiator and target) instead of only reporting them.",
    )
    publish = forms.BooleanField(
        required=False,
        label="Publish",
        help_text="Publish the imported events (each needs a participant and a citation); "
        "otherwise they are drafts.",
    )

    def __init__(self, *args, may_publish=False, **kwargs):
        super().__init__(*args, **kwargs)
        if not may_publish:
            del self.fields["publish"]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in IMPORT_FORMATS:
            raise ValidationError("Upload a .csv or a .json file.")
        if upload.size > settings.IMPORT_MAX_BYTES:
            raise ValidationError(
                "This file is larger than %(limit)s: import it with `manage.py import_events`.",
                params={"limit": filesizeformat(settings.IMPORT_MAX_BYTES)},
            )
        return upload


def option_labels(options):
    return [ImportForm.base_fields[name].label for name, on in options.items() if on]


def job_context(job):
    """What the page of a job shows: its state, its progress while it runs, and its report
    once it ends, each duplicate linked to the existing event it looks like."""
    report = job.report
    duplicates = []
    if report:
        slugs = {duplicate["existing"] for duplicate in report["duplicates"]}
        existing = dict(Event.objects.filter(slug__in=slugs).values_list("slug", "pk"))
        duplicates = [
            {
                **duplicate,
                "url": reverse("admin:events_event_change", args=[existing[duplicate["existing"]]])
                if duplicate["existing"] in existing
                else None,
            }
            for duplicate in report["duplicates"]
        ]
    return {
        "job": job,
        "options": option_labels(job.options),
        "report": report,
        "duplicates": duplicates,
        "skipped_duplicates": job.options.get("skip_duplicates", False),
        **progress_context(job),
        "rows_read": f"{job.rows_read:,}",
        "refresh": None if job.finished else REFRESH_SECONDS,
        "shown_at_most": REPORT_MAX_ITEMS,
    }


def progress_context(job):
    """A running job's progress in words, and as a percentage of the file read (None when
    the worker could not tell)."""
    progress = progress_of(job) if job.state == JobState.RUNNING else None
    if not progress:
        return {"progress": None, "percent": None}
    text = f"Read {progress['rows']:,} rows"
    percent = None
    if progress.get("bytes") is not None and job.file_size:
        percent = min(100, round(100 * progress["bytes"] / job.file_size))
        text += (
            f": {filesizeformat(progress['bytes'])} of {filesizeformat(job.file_size)} ({percent}%)"
        )
    return {"progress": text + ".", "percent": percent}
