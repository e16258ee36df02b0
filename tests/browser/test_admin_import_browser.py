"""A curator imports the example file in the admin: upload, dry-run report, confirm."""

from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from events.models import Event, ReviewState

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "events.csv"


def test_curator_uploads_the_example_sees_the_dry_run_report_and_confirms(
    page, live_server, artifacts
):
    call_command("loaddata", "countries", "actors", "sources", verbosity=0)
    user = User.objects.create_user("carla", password="a-long-test-password", is_staff=True)
    user.groups.add(Group.objects.get(name="curators"))

    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "carla")
    page.fill("#id_password", "a-long-test-password")
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")

    page.goto(f"{live_server.url}/admin/events/event/")
    page.click("text=Import events")
    page.wait_for_selector("#import-form")
    assert page.locator("#id_publish").count() == 0  # a curator cannot publish
    page.set_input_files("#id_file", str(EXAMPLE))
    page.check("#id_create_actors")
    page.click("input[name=_upload]")

    page.wait_for_selector("#import-report")
    assert page.inner_text("#count-created") == "4"
    assert page.inner_text("#count-updated") == "0"
    assert page.inner_text("#count-unchanged") == "0"
    assert page.inner_text("#count-duplicates") == "0"
    assert "Dry run of events.csv: nothing written yet" in page.inner_text("#import-report")
    page.screenshot(path=str(artifacts / "admin-import-report.png"), full_page=True)
    assert not Event.objects.filter(slug__startswith="example-").exists()

    page.click("input[name=_confirm]")
    page.wait_for_selector(".messagelist .success")
    assert "Imported events.csv: created 4, updated 0, left 0 unchanged." in page.inner_text(
        ".messagelist"
    )
    assert "Example: Ruritania expels two Freedonian diplomats" in page.inner_text("#result_list")
    events = Event.objects.filter(slug__startswith="example-")
    assert events.count() == 4
    assert {e.review_state for e in events} == {ReviewState.DRAFT}
    assert page.console_errors == []
