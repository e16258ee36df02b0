"""A curator imports the example file in the admin, through the queue and a real worker: the
upload's dry run runs as a background job whose page reloads itself until the report is there,
survives a reload, and confirms into a second job that imports the file."""

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from events.models import Event, ImportJob, JobState, ReviewState
from tests.browser.signing_in import PASSWORD, sign_in

# The fixtures that run a real queue and worker (threads of this process) for the live server.
from tests.test_import_jobs import JOB_TIMEOUT, queue, upload_dir, uploads, worker  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "events.csv"


@pytest.mark.usefixtures("worker")
def test_curator_uploads_the_example_sees_the_dry_run_report_and_confirms(
    page, live_server, artifacts
):
    call_command("loaddata", "countries", "actors", "sources", verbosity=0)
    user = User.objects.create_user("carla", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="curators"))
    timeout = JOB_TIMEOUT * 1000

    sign_in(page, live_server.url, "carla")

    page.goto(f"{live_server.url}/admin/events/event/")
    page.click("text=Import events")
    page.wait_for_selector("#import-form")
    assert page.locator("#id_publish").count() == 0  # a curator cannot publish
    page.set_input_files("#id_file", str(EXAMPLE))
    page.check("#id_create_actors")
    page.click("input[name=_upload]")

    # The job's page, which reloads itself until the worker has made the report.
    page.wait_for_url("**/admin/events/event/import/*/")
    job_url = page.url
    page.wait_for_selector('#import-job[data-state="done"]', timeout=timeout)
    assert page.inner_text("#count-created") == "4"
    assert page.inner_text("#count-updated") == "0"
    assert page.inner_text("#count-unchanged") == "0"
    assert page.inner_text("#count-duplicates") == "0"
    assert "Dry run of events.csv: nothing written yet" in page.inner_text("#import-job")
    assert "Create actors" in page.inner_text("#import-job")
    page.screenshot(path=str(artifacts / "admin-import-report.png"), full_page=True)
    assert not Event.objects.filter(slug__startswith="example-").exists()
    [dry_run] = ImportJob.objects.all()
    assert uploads(settings.IMPORT_UPLOAD_DIR) == [dry_run.upload]  # kept for the confirmation

    # A reload shows the same report, and the import can still be confirmed.
    page.reload()
    assert page.url == job_url
    assert page.inner_text("#count-created") == "4"
    page.click("input[name=_confirm]")

    page.wait_for_url(lambda url: url != job_url and "/admin/events/event/import/" in url)
    page.wait_for_selector('#import-job[data-state="done"]', timeout=timeout)
    assert "Imported events.csv: created 4, updated 0, left 0 unchanged." in page.inner_text(
        ".import-summary"
    )
    page.screenshot(path=str(artifacts / "admin-import-done.png"), full_page=True)
    page.click("text=See the events")
    page.wait_for_selector("#result_list")
    assert "Example: Ruritania expels two Freedonian diplomats" in page.inner_text("#result_list")

    events = Event.objects.filter(slug__startswith="example-")
    assert events.count() == 4
    assert {e.review_state for e in events} == {ReviewState.DRAFT}
    history = Event.history.filter(slug__startswith="example-")
    assert {record.history_user.username for record in history} == {"carla"}
    job = ImportJob.objects.get(confirms=dry_run)
    assert job.state == JobState.DONE and job.user == user
    assert uploads(settings.IMPORT_UPLOAD_DIR) == []
    assert page.console_errors == []
