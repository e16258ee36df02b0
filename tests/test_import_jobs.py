"""Admin imports as background jobs: a real queue and a real huey consumer (threads of the test
process) run the dry run and the import; the job's page shows progress and the report, survives
a reload, and is its owner's; the upload is deleted when its job ends, whatever the outcome."""

import contextlib
import datetime
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import DatabaseError, connection
from django.db.backends.signals import connection_created
from django.utils import timezone
from huey.contrib.djhuey import HUEY
from huey.storage import RedisStorage, SqliteStorage

from events import tasks
from events.models import Actor, Event, ImportJob, JobState
from tests.test_admin import make_user, messages_of
from tests.test_admin_import import EXAMPLE, EXAMPLE_SLUGS, IMPORT, csv_file, event_row

# How long a test waits for the worker before it fails.
JOB_TIMEOUT = 60

# The worker's connection sees only what the test's connection committed.
pytestmark = pytest.mark.django_db(transaction=True)


# --- The queue and the worker ----------------------------------------------------------------


@pytest.fixture(autouse=True)
def upload_dir(tmp_path, settings):
    """Uploads wait in the test's own directory."""
    settings.IMPORT_UPLOAD_DIR = tmp_path / "uploads"
    return settings.IMPORT_UPLOAD_DIR


@pytest.fixture
def queue(tmp_path, monkeypatch, settings):
    """A real queue of the test's own, of the kind the settings pick: huey's SQLite storage in
    a file of the test's, or a Redis queue under a name of its own (the Redis test database is
    emptied between tests anyway)."""
    if settings.REDIS_URL:
        storage = RedisStorage(f"tests-{uuid.uuid4().hex}", url=settings.REDIS_URL)
    else:
        storage = SqliteStorage("tests", filename=str(tmp_path / "huey.sqlite3"))
    monkeypatch.setattr(HUEY, "immediate", False)
    monkeypatch.setattr(HUEY, "storage", storage)
    yield storage
    storage.flush_all()
    storage.close()


@pytest.fixture
def worker(queue, transactional_db):
    """huey's consumer, as `manage.py run_huey` runs it, in threads of the test process: it
    takes the jobs from the queue and runs them on their own database connection. (The test
    writes nothing while a job runs: two writers on SQLite's in-memory test database fail
    at once where a file's would wait their turn.)"""
    consumer = HUEY.create_consumer(
        workers=1, periodic=False, initial_delay=0.05, max_delay=0.2, check_worker_health=False
    )
    consumer._set_signal_handlers = lambda: None  # the test runner keeps its own
    with reads_take_no_locks():
        consumer.start()
        yield consumer
        consumer.stop(graceful=True)


@contextlib.contextmanager
def reads_take_no_locks():
    """SQLite's in-memory test database is one cache that every connection shares, locked
    table by table: a page (or the test) reading a job while the worker updates it would fail
    at once with "database table is locked", where readers of a database file wait or, in WAL
    mode, read on. Readers that take no locks (read_uncommitted) stand for that here."""
    if connection.vendor != "sqlite" or not connection.is_in_memory_db():
        yield
        return

    def no_read_locks(sender, connection, **kwargs):
        connection.cursor().execute("PRAGMA read_uncommitted = 1")

    connection_created.connect(no_read_locks)
    no_read_locks(None, connection)
    try:
        yield
    finally:
        connection_created.disconnect(no_read_locks)
        connection.cursor().execute("PRAGMA read_uncommitted = 0")


@pytest.fixture(autouse=True)
def reference_data():
    call_command("loaddata", "countries", "actors", "sources", verbosity=0)


def wait_for(job, *states, timeout=JOB_TIMEOUT):
    """The job once its state is one of `states`."""
    deadline = time.monotonic() + timeout
    while True:
        job.refresh_from_db()
        if job.state in states:
            return job
        if time.monotonic() > deadline:
            pytest.fail(f"job {job.pk} still {job.state} after {timeout} s")
        time.sleep(0.05)


def uploads(directory):
    return sorted(p.name for p in directory.glob("import-*")) if directory.exists() else []


def upload(client, file, **options):
    data = {"file": file, **{name: "on" for name, on in options.items() if on}}
    return client.post(IMPORT, data)


def example_file():
    return SimpleUploadedFile("events.csv", EXAMPLE.read_bytes(), content_type="text/csv")


# --- The whole cycle -------------------------------------------------------------------------


def test_a_dry_run_then_an_import_go_through_the_queue_and_the_worker(client, worker, upload_dir):
    client.force_login(make_user("carla", "curators"))

    response = upload(client, example_file(), create_actors=True)

    assert response.status_code == 302
    dry_run = ImportJob.objects.get()
    assert response["Location"] == f"{IMPORT}{dry_run.pk}/"
    assert dry_run.dry_run and dry_run.user.username == "carla"
    assert dry_run.options == {"create_actors": True, "skip_duplicates": False, "publish": False}
    wait_for(dry_run, JobState.DONE, JobState.FAILED)
    assert dry_run.state == JobState.DONE, dry_run.message
    assert dry_run.report["counts"].items() >= {"created": 4, "updated": 0, "unchanged": 0}.items()
    # A dry run writes nothing, actors included; its upload waits for the confirmation.
    assert not Event.objects.filter(slug__in=EXAMPLE_SLUGS).exists()
    assert not Actor.objects.filter(slug="ruritania").exists()
    assert uploads(upload_dir) == [dry_run.upload]

    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "Dry run of events.csv: nothing written yet" in html
    assert '<td id="count-created">4</td>' in html
    assert 'http-equiv="refresh"' not in html  # ended: no more reloading
    assert 'name="_confirm"' in html

    response = client.post(response["Location"], {"_confirm": "Import"})

    assert response.status_code == 302
    job = ImportJob.objects.get(confirms=dry_run)
    assert response["Location"] == f"{IMPORT}{job.pk}/"
    wait_for(job, JobState.DONE, JobState.FAILED)
    assert job.state == JobState.DONE, job.message
    assert job.report["counts"].items() >= {"created": 4, "updated": 0, "unchanged": 0}.items()
    html = client.get(response["Location"]).content.decode()
    assert "Imported events.csv: created 4, updated 0, left 0 unchanged." in html
    assert Event.objects.filter(slug__in=EXAMPLE_SLUGS).count() == 4
    assert Actor.objects.get(slug="ruritania").name == "Ruritania (fictional example)"
    # History names the curator; the upload is gone.
    records = Event.history.filter(slug__in=EXAMPLE_SLUGS)
    assert {r.history_user.username for r in records} == {"carla"}
    assert uploads(upload_dir) == []
    dry_run.refresh_from_db()
    assert dry_run.upload == job.upload == ""


# --- Progress, reloads, who sees a job -------------------------------------------------------


@pytest.fixture
def slow_import(monkeypatch):
    """run_import replaced by one that reads half the file, says so through `log` as the
    importer does, then waits for the test's go (`release`) and reports one event created."""
    started, release = threading.Event(), threading.Event()

    def run_import(path, fmt, *, dry_run, user, log, **options):
        with open(path, "rb") as handle:
            handle.read(Path(path).stat().st_size // 2)
            log("read 10000 rows")
            started.set()
            release.wait(JOB_TIMEOUT)
        return [], {"created": 1, "updated": 0, "unchanged": 0, "skipped": 0, "duplicates": 0}, []

    monkeypatch.setattr(tasks, "run_import", run_import)
    yield started, release
    release.set()


def big_csv(rows=2000):
    return csv_file(*(event_row(slug=f"example-meeting-{n}") for n in range(rows)))


def test_the_page_shows_the_progress_while_the_job_runs_and_survives_reloads(
    client, worker, slow_import, upload_dir
):
    started, release = slow_import
    client.force_login(make_user("carla", "curators"))
    location = upload(client, big_csv())["Location"]
    job = ImportJob.objects.get()
    assert started.wait(JOB_TIMEOUT)

    for _ in range(2):  # a reload shows the same
        page = client.get(location)
        assert page.status_code == 200
        html = page.content.decode()
        assert 'data-state="running"' in html
        assert "Read 10,000 rows: " in html
        assert f"of {page.context['job'].file_size // 1024}" in html  # "… of 123 KB"
        assert 50 <= page.context["percent"] <= 52  # half the file, and a buffer
        assert '<meta http-equiv="refresh" content="2">' in html  # reloads itself, no script
        assert 'name="_confirm"' not in html
    assert uploads(upload_dir) == [job.upload]

    release.set()
    wait_for(job, JobState.DONE)
    html = client.get(location).content.decode()
    assert 'data-state="done"' in html
    assert '<td id="count-created">1</td>' in html
    assert "http-equiv" not in html
    assert job.rows_read == 10000
    assert tasks.progress_of(job) is None  # the worker's progress is forgotten at the end


def test_a_queued_job_says_it_waits_for_the_worker(client, queue):
    client.force_login(make_user("carla", "curators"))
    location = upload(client, csv_file(event_row()))["Location"]
    html = client.get(location).content.decode()
    assert 'data-state="queued"' in html
    assert "Waiting for the worker" in html and "manage.py run_huey" in html
    assert '<meta http-equiv="refresh"' in html
    assert queue.queue_size() == 1  # the dry run waits in the queue


def test_a_job_is_its_owners_and_superusers_only(client, queue):
    carla = make_user("carla", "curators")
    client.force_login(carla)
    location = upload(client, csv_file(event_row()))["Location"]
    assert client.get(location).status_code == 200
    # Another curator: as if there were no such job, and no confirming or cancelling it.
    client.force_login(make_user("cora", "curators"))
    assert client.get(location).status_code == 404
    assert client.post(location, {"_cancel": "Cancel"}).status_code == 404
    assert location not in client.get(IMPORT).content.decode()
    # A superuser sees every job.
    client.force_login(User.objects.create_superuser("root", password="pw"))
    assert client.get(location).status_code == 200
    # Staff without the right to add events: no import page, no job page.
    viewer = User.objects.create_user("vera", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_event"))
    client.force_login(viewer)
    assert client.get(location).status_code == 403
    client.logout()
    response = client.get(location)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert client.get(f"{IMPORT}999999/").status_code == 302


def test_the_import_page_lists_the_users_recent_jobs(client, queue):
    client.force_login(make_user("carla", "curators"))
    location = upload(client, csv_file(event_row(), name="meetings.csv"))["Location"]
    html = client.get(IMPORT).content.decode()
    assert f'<a href="{location}">meetings.csv</a>' in html
    assert "<td>Waiting for the worker</td>" in html


# --- The upload goes when its job ends -------------------------------------------------------


def test_a_dry_run_with_problems_deletes_the_upload_and_offers_no_import(
    client, worker, upload_dir
):
    client.force_login(make_user("carla", "curators"))
    location = upload(client, csv_file(event_row(start_date="2019-13-01")))["Location"]
    job = wait_for(ImportJob.objects.get(), JobState.DONE, JobState.FAILED)
    assert job.state == JobState.DONE
    assert job.report["problems"] == [
        "row 2, column start_date: '2019-13-01' is not an ISO date (YYYY-MM-DD)"
    ]
    assert uploads(upload_dir) == [] and job.upload == ""
    html = client.get(location).content.decode()
    assert "1 problem: nothing was written" in html
    assert 'name="_confirm"' not in html
    assert client.post(location, {"_confirm": "Import"}).status_code == 302
    assert not ImportJob.objects.filter(confirms=job).exists()


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            DatabaseError("deadlock detected"),
            "The database refused the import, so nothing was written: deadlock detected",
        ),
        (
            RuntimeError("out of luck"),
            "The import stopped on an unexpected error, so nothing was written "
            "(RuntimeError: out of luck).",
        ),
    ],
)
def test_a_job_that_raises_fails_with_a_message_and_deletes_the_upload(
    client, worker, upload_dir, monkeypatch, error, message
):
    def run_import(*args, **kwargs):
        raise error

    monkeypatch.setattr(tasks, "run_import", run_import)
    client.force_login(make_user("carla", "curators"))
    location = upload(client, csv_file(event_row()))["Location"]
    job = wait_for(ImportJob.objects.get(), JobState.DONE, JobState.FAILED)
    assert job.state == JobState.FAILED
    assert job.message == message
    assert uploads(upload_dir) == [] and job.upload == ""
    page = client.get(location)
    assert page.status_code == 200
    assert message in page.content.decode()
    assert 'name="_confirm"' not in page.content.decode()


def test_an_import_that_fails_deletes_the_upload_it_took_from_the_dry_run(
    client, worker, upload_dir
):
    Actor.objects.create(slug="example-ministry", name="Example ministry", kind="agency")
    client.force_login(make_user("carla", "curators"))
    location = upload(client, csv_file(event_row(participants="initiator:example-ministry")))[
        "Location"
    ]
    dry_run = wait_for(ImportJob.objects.get(), JobState.DONE)
    assert dry_run.report["counts"]["created"] == 1
    Actor.objects.filter(slug="example-ministry").delete()  # gone between dry run and confirm

    location = client.post(location, {"_confirm": "Import"})["Location"]

    job = wait_for(ImportJob.objects.get(confirms=dry_run), JobState.DONE, JobState.FAILED)
    assert job.report["problems"] == [
        "row 2, column participants: unknown actor 'example-ministry' (--create-actors creates "
        "it from its name and kind)"
    ]
    assert uploads(upload_dir) == []
    assert not Event.objects.filter(slug="example-a-meeting").exists()
    assert "1 problem: nothing was written" in client.get(location).content.decode()


def test_cancel_deletes_the_upload_and_a_dry_run_is_confirmed_once(client, worker, upload_dir):
    client.force_login(make_user("carla", "curators"))
    first = upload(client, csv_file(event_row()))["Location"]
    wait_for(ImportJob.objects.get(), JobState.DONE)
    second = upload(client, csv_file(event_row(slug="example-another")))["Location"]
    dry_runs = [wait_for(job, JobState.DONE) for job in ImportJob.objects.order_by("pk")]
    assert len(uploads(upload_dir)) == 2

    response = client.post(first, {"_cancel": "Cancel"})

    assert response["Location"] == IMPORT
    assert messages_of(response) == ["Import cancelled; nothing was written."]
    assert uploads(upload_dir) == [dry_runs[1].upload]
    response = client.post(first, {"_confirm": "Import"})
    assert response["Location"] == first
    assert "can no longer be imported" in messages_of(response)[-1]
    assert not ImportJob.objects.filter(dry_run=False).exists()

    # Confirming twice (a double click) queues one import.
    imported = client.post(second, {"_confirm": "Import"})["Location"]
    again = client.post(second, {"_confirm": "Import"})
    assert again["Location"] == second
    job = wait_for(ImportJob.objects.get(dry_run=False), JobState.DONE)
    assert imported == f"{IMPORT}{job.pk}/"
    assert uploads(upload_dir) == []
    assert Event.objects.filter(slug="example-another").exists()
    assert not Event.objects.filter(slug="example-a-meeting").exists()
    assert f'href="{imported}"' in client.get(second).content.decode()


def test_a_worker_that_starts_fails_the_jobs_of_a_dead_one_and_deletes_their_uploads(
    upload_dir, queue
):
    carla = make_user("carla", "curators")
    upload_dir.mkdir()

    def running(worker):
        name = f"import-{uuid.uuid4().hex}.csv"
        (upload_dir / name).write_text("slug\n")
        return ImportJob.objects.create(
            user=carla, file_name="events.csv", file_size=5, format="csv", upload=name,
            dry_run=True, state=JobState.RUNNING, worker=worker,
        )  # fmt: skip

    host = tasks.worker_name().rpartition(":")[0]
    dead = running(f"{host}:{2**22 + 1}")  # above Linux's largest pid: no such process
    alive = running(tasks.worker_name())  # this process: still running
    elsewhere = running("another-host:12")  # another host's worker: not ours to judge

    consumer = HUEY.create_consumer(workers=1, periodic=False, check_worker_health=False)
    consumer._set_signal_handlers = lambda: None
    consumer.start()
    consumer.stop(graceful=True)

    dead.refresh_from_db()
    assert dead.state == JobState.FAILED
    assert dead.message.startswith("The worker stopped before the job ended")
    assert dead.upload == ""
    assert sorted(uploads(upload_dir)) == sorted([alive.upload, elsewhere.upload])
    for job in (alive, elsewhere):
        job.refresh_from_db()
        assert job.state == JobState.RUNNING


def test_a_dry_run_not_confirmed_in_time_loses_its_upload(client, worker, upload_dir):
    client.force_login(make_user("carla", "curators"))
    location = upload(client, csv_file(event_row()))["Location"]
    dry_run = wait_for(ImportJob.objects.get(), JobState.DONE)
    stray = upload_dir / "import-stray.csv"  # a request that died before queueing its job
    stray.write_text("slug\n")
    queued = ImportJob.objects.create(
        user=dry_run.user, file_name="never.csv", file_size=1, format="csv", dry_run=True
    )

    tasks.remove_expired_uploads(now=timezone.now() + datetime.timedelta(hours=1))
    assert sorted(uploads(upload_dir)) == sorted([dry_run.upload, stray.name])

    tasks.remove_expired_uploads(
        now=timezone.now() + datetime.timedelta(seconds=tasks.IMPORT_KEPT_SECONDS + 60)
    )

    assert uploads(upload_dir) == []
    dry_run.refresh_from_db()
    assert dry_run.upload == "" and dry_run.state == JobState.DONE
    queued.refresh_from_db()
    assert queued.state == JobState.FAILED and "run_huey" in queued.message
    response = client.post(location, {"_confirm": "Import"})
    assert "can no longer be imported" in messages_of(response)[-1]


def test_a_queue_that_cannot_be_reached_fails_the_job_and_deletes_the_upload(
    client, queue, upload_dir, monkeypatch
):
    def enqueue(task):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(HUEY, "enqueue", enqueue)
    client.force_login(make_user("carla", "curators"))
    location = upload(client, csv_file(event_row()))["Location"]
    job = ImportJob.objects.get()
    assert job.state == JobState.FAILED
    assert job.message == (
        "The job could not be queued: Error 111 connecting to 127.0.0.1:6379. Connection refused."
    )
    assert uploads(upload_dir) == [] and job.upload == ""
    page = client.get(location)
    assert page.status_code == 200 and job.message in page.content.decode()


# --- The upload form -------------------------------------------------------------------------


def test_a_file_over_the_limit_is_a_form_error(client, queue, settings, upload_dir):
    settings.IMPORT_MAX_BYTES = 100
    client.force_login(make_user("carla", "curators"))
    response = upload(client, csv_file(event_row()))
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "file": ["This file is larger than 100\xa0bytes: import it with `manage.py import_events`."]
    }
    assert not ImportJob.objects.exists() and uploads(upload_dir) == []


def test_an_upload_that_cannot_be_stored_is_a_form_error(client, queue, upload_dir):
    upload_dir.parent.joinpath("uploads").write_text("a file where the directory should be")
    client.force_login(make_user("carla", "curators"))
    response = upload(client, csv_file(event_row()))
    assert response.status_code == 200
    [error] = response.context["form"].errors["file"]
    assert error.startswith("The file could not be stored: ")
    assert not ImportJob.objects.exists()


def test_a_large_upload_is_moved_into_place_not_copied(client, queue, settings, upload_dir):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # larger uploads wait in a temporary file
    client.force_login(make_user("carla", "curators"))
    file = big_csv(50)
    content = file.read()
    file.seek(0)
    upload(client, file)
    job = ImportJob.objects.get()
    stored = upload_dir / job.upload
    assert stored.read_bytes() == content
    assert job.file_size == stored.stat().st_size > 1024
    assert stored.stat().st_mode & 0o777 == 0o600


def test_file_position_reads_how_far_a_handle_is_into_a_file(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"x" * 100_000)
    assert tasks.file_position(path) is None  # not open
    with path.open("rb") as handle:
        handle.read(40_000)
        # The raw handle's offset: what the buffered reader took from the file.
        assert 40_000 <= tasks.file_position(path) <= 40_000 + 8192
