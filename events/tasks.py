"""Background jobs, run by huey's worker (`manage.py run_huey`): an admin upload's dry run and
its import, outside the request.

- The admin stores the upload under a random name in IMPORT_UPLOAD_DIR (`store_upload`), makes
  an ImportJob and queues it (`start_import`); the page of the job follows it.
- The worker runs `events.importing.run_import` on it as the uploader (history names them),
  keeps the report on the job, and deletes the upload when the job ends, whatever the outcome,
  except after a dry run without problems: that upload waits for the confirmation
  (`confirm_import` queues the import, which deletes it), the cancellation (`cancel_import`),
  or IMPORT_KEPT_SECONDS (`remove_expired_uploads`).
- Progress: run_import's `log` says how many rows it has read; the worker keeps that, and how
  far into the file it is, in the queue's own storage (Redis, or huey's SQLite file), where the
  page reads it. Not in the job's row: the import holds its transaction open until the end,
  and on SQLite its write lock, so the row can only say what the job did once it ends.
- A worker that starts fails the jobs that a dead worker on the same host left running
  (`fail_abandoned_jobs`), and deletes their uploads.
"""

import datetime
import logging
import os
import re
import secrets
import socket
from pathlib import Path

from django.conf import settings
from django.core.files.move import file_move_safe
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task, on_shutdown, on_startup

from diplomacy.routers import pin_to_primary

from . import writes
from .importing import FileProblem, run_import
from .importing import describe_problem as describe_row_problem
from .models import ImportJob, JobState

logger = logging.getLogger(__name__)

IMPORT_FORMATS = {".csv": "csv", ".json": "json"}
IMPORT_OPTIONS = ["create_actors", "skip_duplicates", "publish"]
# A dry run's upload waits this long for its confirmation; a job no worker took, as long.
IMPORT_KEPT_SECONDS = 24 * 3600
# A report keeps this many problems and duplicates (and their totals): a million-row file's
# every problem would make a row, and a page, of hundreds of megabytes.
REPORT_MAX_ITEMS = 1000


# --- Uploads ---------------------------------------------------------------------------------


def upload_path(name):
    """Where the upload `name` waits; None for a name that is not one of ours."""
    if not name or Path(name).name != name or not name.startswith("import-"):
        return None
    return Path(settings.IMPORT_UPLOAD_DIR) / name


def store_upload(upload):
    """Keep an uploaded file (Django's UploadedFile) for its job: returns the stored name.
    A large upload, already on disk, is moved rather than copied."""
    directory = Path(settings.IMPORT_UPLOAD_DIR)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = f"import-{secrets.token_urlsafe(16)}{Path(upload.name).suffix.lower()}"
    path = directory / name
    if hasattr(upload, "temporary_file_path"):
        file_move_safe(upload.temporary_file_path(), str(path))
    else:
        with path.open("xb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
    path.chmod(0o600)
    return name


def delete_upload(name):
    if (path := upload_path(name)) is not None:
        path.unlink(missing_ok=True)


# --- Starting, confirming, cancelling --------------------------------------------------------


def start_import(user, upload, options):
    """Store the upload and queue its dry run; returns the job."""
    name = store_upload(upload)
    try:
        job = ImportJob.objects.create(
            user=user,
            file_name=Path(upload.name).name[:255],
            file_size=upload.size,
            format=IMPORT_FORMATS[Path(upload.name).suffix.lower()],
            upload=name,
            options={option: bool(options.get(option)) for option in IMPORT_OPTIONS},
            dry_run=True,
        )
    except BaseException:
        delete_upload(name)
        raise
    enqueue(job)
    return job


def confirm_import(dry_run):
    """Queue the import of a dry run that ended without problems; its upload passes to the
    import. Returns the import's job, or None when the dry run cannot be confirmed (any more)."""
    with transaction.atomic():
        dry_run = ImportJob.objects.select_for_update().filter(pk=dry_run.pk).first()
        if dry_run is None or not dry_run.confirmable:
            return None
        if not upload_path(dry_run.upload).exists():
            ImportJob.objects.filter(pk=dry_run.pk).update(upload="")
            return None
        try:
            # The one-to-one `confirms` lets one import confirm a dry run, whatever the clicks.
            with transaction.atomic():
                job = ImportJob.objects.create(
                    user=dry_run.user,
                    file_name=dry_run.file_name,
                    file_size=dry_run.file_size,
                    format=dry_run.format,
                    upload=dry_run.upload,
                    options=dry_run.options,
                    dry_run=False,
                    confirms=dry_run,
                )
        except IntegrityError:
            return None
        ImportJob.objects.filter(pk=dry_run.pk).update(upload="")
    enqueue(job)
    return job


def cancel_import(dry_run):
    """Delete a dry run's upload instead of importing it. False if it was confirmed first."""
    with transaction.atomic():
        dry_run = ImportJob.objects.select_for_update().filter(pk=dry_run.pk).first()
        if dry_run is None or not dry_run.confirmable:
            return False
        ImportJob.objects.filter(pk=dry_run.pk).update(upload="")
    delete_upload(dry_run.upload)
    return True


def enqueue(job):
    """Queue a job's task. The request commits as it goes (no ATOMIC_REQUESTS), so the worker
    finds the row. A queue that cannot be reached fails the job, whose page says so."""
    try:
        run_import_job(job.pk)
    except Exception as error:
        logger.exception("Import job %s could not be queued", job.pk)
        if ImportJob.objects.filter(pk=job.pk, state=JobState.QUEUED).update(
            state=JobState.FAILED,
            message=f"The job could not be queued: {error}",
            upload="",
            finished_at=timezone.now(),
        ):
            delete_upload(job.upload)


# --- Running a job ---------------------------------------------------------------------------


@db_task()
def run_import_job(job_id):
    """The queue's entry point: run the job once (a second delivery finds it started)."""
    run_job(job_id)


def run_job(job_id):
    # The job's reads (the importer's among them) must see the primary, never a lagging replica.
    pin_to_primary()
    claimed = ImportJob.objects.filter(pk=job_id, state=JobState.QUEUED).update(
        state=JobState.RUNNING, worker=worker_name(), started_at=timezone.now()
    )
    if not claimed:
        return
    job = ImportJob.objects.select_related("user").get(pk=job_id)
    progress = Progress(job)
    keep = False
    try:
        outcome = import_file(job, progress)
        if isinstance(outcome, str):
            end_job(job, JobState.FAILED, message=outcome, rows=progress.rows)
        else:
            # A clean dry run's upload waits for the confirmation.
            keep = job.dry_run and not outcome["problems"]
            end_job(job, JobState.DONE, report=outcome, rows=progress.rows, keep=keep)
    except Exception as error:
        logger.exception("Import job %s could not be ended", job_id)
        try:
            end_job(job, JobState.FAILED, message=f"The job could not end properly: {error}")
        except Exception:
            logger.exception("Import job %s could not be marked failed", job_id)
    finally:
        if not keep:
            delete_upload(job.upload)
        progress.forget()


def import_file(job, progress):
    """Run the import of a job's upload: the report, or a sentence saying why it failed."""
    path = upload_path(job.upload)
    if path is None or not path.exists():
        return "The upload was no longer there (removed after waiting too long): upload it again."
    user = job.user
    if not (user.is_active and user.has_perm("events.add_event")):
        return f"{user} may no longer import events; nothing was written."
    options = dict(job.options)
    # Publishing needs an editor at the time of the import, not only of the upload.
    options["publish"] = bool(options.get("publish")) and writes.is_editor(user)
    progress.file = path
    try:
        problems, counts, duplicates = run_import(
            str(path), job.format, dry_run=job.dry_run, user=user, log=progress, **options
        )
    except DatabaseError as error:
        # The database refused a write that validation let through (say, a row added in the
        # meantime): the transaction rolled back.
        return f"The database refused the import, so nothing was written: {error}"
    except Exception as error:
        logger.exception("Import job %s failed", job.pk)
        return (
            f"The import stopped on an unexpected error, so nothing was written "
            f"({type(error).__name__}: {error})."
        )
    return make_report(problems, counts, duplicates)


def make_report(problems, counts, duplicates):
    """The report a job keeps: counts (None when nothing can be imported), problems as text,
    duplicates as (row, slug, the existing event's slug); each list cut at REPORT_MAX_ITEMS."""
    if counts is not None and not any(counts.values()):
        message = (
            "holds no events (a CSV needs rows under its header; JSON, "
            "an event object or a list of them)"
        )
        problems, counts = [FileProblem(None, message)], None
    return {
        "counts": counts,
        "problems": [describe_problem(p) for p in problems[:REPORT_MAX_ITEMS]],
        "problems_total": len(problems),
        "duplicates": [
            {"row": row, "slug": slug, "existing": existing}
            for row, slug, existing in duplicates[:REPORT_MAX_ITEMS]
        ],
        # The importer lists the first of them and counts them all.
        "duplicates_total": max(len(duplicates), (counts or {}).get("duplicates", 0)),
    }


def describe_problem(problem):
    """A problem as the report lists it: a row's as the command prints it; the file's as a
    sentence that names its line."""
    if isinstance(problem, FileProblem):
        where = f" (line {problem.line})" if problem.line else ""
        return f"The file {problem.message}{where}."
    return describe_row_problem(problem)


def end_job(job, state, *, report=None, message="", rows=0, keep=False):
    ImportJob.objects.filter(pk=job.pk).update(
        state=state,
        report=report,
        message=message,
        rows_read=rows,
        finished_at=timezone.now(),
        **({} if keep else {"upload": ""}),
    )


# --- Progress --------------------------------------------------------------------------------

READ_ROWS = re.compile(r"\bread (\d+) rows\b")


class Progress:
    """run_import's `log`: keeps the rows read, how far into the file, and the last message,
    in the queue's storage under the job's key (`progress_of` reads it)."""

    def __init__(self, job):
        self.key = progress_key(job.pk)
        self.file = None
        self.rows = 0

    def __call__(self, message):
        if match := READ_ROWS.search(message):
            self.rows = int(match[1])
        state = {"rows": self.rows, "bytes": file_position(self.file), "message": message}
        try:
            HUEY.put(self.key, state)
        except Exception:  # progress is a courtesy: never the reason an import fails
            logger.warning("Could not store the progress of %s", self.key, exc_info=True)

    def forget(self):
        try:
            HUEY.delete(self.key)
        except Exception:
            logger.warning("Could not delete the progress of %s", self.key, exc_info=True)


def progress_key(job_id):
    return f"import-job-progress-{job_id}"


def progress_of(job):
    """A running job's progress as its worker last stored it: {"rows", "bytes", "message"}, or
    None (none stored yet, or the storage cannot be reached)."""
    try:
        return HUEY.get(progress_key(job.pk), peek=True)
    except Exception:
        logger.warning("Could not read the progress of job %s", job.pk, exc_info=True)
        return None


def file_position(path):
    """How far this process has read `path`: the offset of its open handle, from Linux's
    /proc/self/fdinfo (the importer opens the file itself; None elsewhere)."""
    if path is None:
        return None
    try:
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{fd}") != str(path):
                    continue
                with open(f"/proc/self/fdinfo/{fd}") as info:
                    for line in info:
                        if line.startswith("pos:"):
                            return int(line.split()[1])
            except OSError:  # closed in the meantime
                continue
    except OSError:
        pass
    return None


# --- Housekeeping ----------------------------------------------------------------------------


def worker_name():
    """host:pid, the name of the worker process on the jobs it runs (each process of a
    `--worker-type process` consumer its own)."""
    return f"{socket.gethostname()}:{os.getpid()}"


@on_startup()
def fail_abandoned_jobs():
    """Fail the jobs that a worker on this host left running when it died (stopped, killed,
    out of memory), and delete their uploads."""
    pin_to_primary()
    host = socket.gethostname()
    for job in ImportJob.objects.filter(state=JobState.RUNNING, worker__startswith=f"{host}:"):
        pid = job.worker.rpartition(":")[2]
        if not pid.isdigit() or int(pid) == os.getpid() or process_alive(int(pid)):
            continue
        end_job(
            job,
            JobState.FAILED,
            message="The worker stopped before the job ended (it was stopped or crashed). "
            "An import writes in one transaction, so the file is either all in the database "
            "or not at all: a dry run of it says which.",
        )
        delete_upload(job.upload)
        Progress(job).forget()


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


@on_shutdown()
def close_database_connections():
    """A worker thread that stops closes its connections (a test database can then go)."""
    connections.close_all()


@db_periodic_task(crontab(minute="*/15"))
def remove_expired_uploads_task():
    """Every quarter of an hour: remove_expired_uploads."""
    remove_expired_uploads()


def remove_expired_uploads(now=None):
    """Delete the uploads of dry runs not confirmed within IMPORT_KEPT_SECONDS, fail the jobs
    no worker took in that time, and delete the stray files of the upload directory (a
    request that stopped between storing a file and queueing its job). The admin also calls
    this on each upload, so a site whose worker runs no periodic tasks stays clean."""
    pin_to_primary()
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(seconds=IMPORT_KEPT_SECONDS)
    kept = ImportJob.objects.filter(state=JobState.DONE, finished_at__lt=cutoff).exclude(upload="")
    for job in kept:
        if ImportJob.objects.filter(pk=job.pk, upload=job.upload).update(upload=""):
            delete_upload(job.upload)
    for job in ImportJob.objects.filter(state=JobState.QUEUED, created_at__lt=cutoff):
        if ImportJob.objects.filter(pk=job.pk, state=JobState.QUEUED).update(
            state=JobState.FAILED,
            message="No worker ran this job in time: is `manage.py run_huey` running?",
            upload="",
            finished_at=now,
        ):
            delete_upload(job.upload)
    directory = Path(settings.IMPORT_UPLOAD_DIR)
    if not directory.is_dir():
        return
    waiting = set(ImportJob.objects.exclude(upload="").values_list("upload", flat=True))
    for path in directory.glob("import-*"):
        try:
            old = path.stat().st_mtime < cutoff.timestamp()
        except FileNotFoundError:
            continue
        if old and path.name not in waiting:
            path.unlink(missing_ok=True)
