"""Import from a file in the admin: upload, dry-run report, confirm (events/importing.py
does the work)."""

import secrets
import tempfile
import time
from pathlib import Path

from django import forms
from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.urls import reverse

from ..importing import FileProblem, run_import
from ..importing import describe_problem as describe_row_problem
from ..models import (
    Event,
)
from .common import can_publish

# --- Import from a file: upload, dry-run report, confirm --------------------------------------

# Uploads wait here between the report and the confirmation: outside any served directory,
# readable by this user only, named at random. One pending upload per session.
IMPORT_DIR = Path(tempfile.gettempdir()) / "diplomacy-admin-imports"
IMPORT_SESSION_KEY = "events_pending_import"
# Larger files belong to `manage.py import_events`, which shows progress and needs no request.
IMPORT_MAX_BYTES = 20 * 1024 * 1024
# An upload never confirmed nor cancelled is removed at the next upload after this long.
IMPORT_KEPT_SECONDS = 24 * 3600
IMPORT_FORMATS = {".csv": "csv", ".json": "json"}
IMPORT_OPTIONS = ["create_actors", "skip_duplicates", "publish"]


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
        if upload.size > IMPORT_MAX_BYTES:
            raise ValidationError(
                "This file is larger than %(limit)d MB: import it with "
                "`manage.py import_events`, which streams files of any size.",
                params={"limit": IMPORT_MAX_BYTES // (1024 * 1024)},
            )
        return upload


def _pending_path(pending):
    # The stored name is ours, but check it anyway: a session is not a place to trust paths.
    name = Path(str(pending.get("file", ""))).name
    return IMPORT_DIR / name if name and name == pending.get("file") else None


def discard_pending_import(request):
    """Forget this session's pending upload and delete its file."""
    pending = request.session.pop(IMPORT_SESSION_KEY, None)
    if pending and (file := _pending_path(pending)) is not None:
        file.unlink(missing_ok=True)


def keep_pending_import(request, upload, options):
    """Save the upload for the confirmation step; returns the session's pending import."""
    discard_pending_import(request)
    IMPORT_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    cutoff = time.time() - IMPORT_KEPT_SECONDS
    for old in IMPORT_DIR.iterdir():
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    suffix = Path(upload.name).suffix.lower()
    with tempfile.NamedTemporaryFile(
        dir=IMPORT_DIR, prefix="import-", suffix=suffix, delete=False
    ) as out:
        for chunk in upload.chunks():
            out.write(chunk)
    pending = {
        "token": secrets.token_urlsafe(16),
        "file": Path(out.name).name,
        "name": Path(upload.name).name,
        "format": IMPORT_FORMATS[suffix],
        "options": options,
    }
    request.session[IMPORT_SESSION_KEY] = pending
    return pending


def describe_problem(problem):
    """A problem of an import as the report lists it: a row's as the command prints it; the
    file's as a sentence that names its line."""
    if isinstance(problem, FileProblem):
        where = f" (line {problem.line})" if problem.line else ""
        return f"The file {problem.message}{where}."
    return describe_row_problem(problem)


def import_report(request, pending, *, dry_run):
    """Run the import of a pending upload (a dry run, or for real) and describe the outcome."""
    options = dict(pending["options"])
    options["publish"] = options.get("publish", False) and can_publish(request)
    file = _pending_path(pending)
    refused = []
    try:
        # A file that is not UTF-8, CSV or JSON is one problem, at its line (run_import).
        problems, counts, duplicates = run_import(
            str(file), pending["format"], dry_run=dry_run, user=request.user, **options
        )
    except DatabaseError as error:
        # The database refused a write that validation let through (say, a row added in the
        # meantime): the transaction rolled back, so nothing was written.
        refused = [f"The database refused the import, so nothing was written: {error}"]
        problems, counts, duplicates = [], None, []
    if counts is not None and not any(counts.values()):
        message = (
            "holds no events (a CSV needs rows under its header; JSON, "
            "an event object or a list of them)"
        )
        problems, counts = [FileProblem(None, message)], None
    existing = dict(
        Event.objects.filter(slug__in=[slug for _, _, slug in duplicates]).values_list("slug", "pk")
    )
    return {
        "dry_run": dry_run,
        "name": pending["name"],
        "options": [ImportForm.base_fields[name].label for name in options if options[name]],
        "counts": counts,
        "problems": refused + [describe_problem(problem) for problem in problems],
        "duplicates": [
            {
                "row": row,
                "slug": slug,
                "existing": existing_slug,
                "url": reverse("admin:events_event_change", args=[existing[existing_slug]])
                if existing_slug in existing
                else None,
            }
            for row, slug, existing_slug in duplicates
        ],
        "skipped_duplicates": options.get("skip_duplicates", False),
    }
