"""A curator drafts an event in the admin through the autocompletes; an editor publishes it."""

import pytest
from django.contrib.auth.models import Group, User

from events.models import Event, ReviewState
from tests.browser.signing_in import PASSWORD, sign_in
from tests.factories import make_actor, make_source

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def make_login(username, group):
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def log_in(page, live_server, username):
    page.context.clear_cookies()
    sign_in(page, live_server.url, username)


def pick(page, inline, index, text, typed):
    """Open the autocomplete of row `index` of `inline`, type, and pick the result `text`."""
    page.click(f"#{inline}-{index} .select2-selection")
    page.fill(".select2-container--open .select2-search__field", typed)
    page.locator(".select2-results__option", has_text=text).first.click()


def test_curator_drafts_an_event_through_autocompletes_and_an_editor_publishes_it(
    page, live_server, artifacts
):
    make_login("carla", "curators")
    make_login("edgar", "editors")
    make_actor(name="Japan", slug="japan")
    make_actor(name="Jamaica", slug="jamaica")
    make_source(title="Japan to expel Russian diplomat", publisher="The Japan Times")

    # The admin links no favicon; the browser's own request for one is not the admin's error.
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    log_in(page, live_server, "carla")
    page.goto(f"{live_server.url}/admin/events/event/add/")
    page.select_option("#id_kind", "expulsion")
    page.fill("#id_title", "Japan expels a Russian diplomat")
    page.fill("#id_start_date", "2018-03-26")
    assert page.input_value("#id_slug") == "japan-expels-a-russian-diplomat"
    assert page.locator("#id_review_state").count() == 0  # a curator cannot publish

    page.click("#participations-group .add-row a")
    pick(page, "participations", 0, "Japan", "Jap")
    page.select_option("#id_participations-0-role", "initiator")
    page.click("#citations-group .add-row a")
    pick(page, "citations", 0, "Japan to expel Russian diplomat", "expel")
    page.fill("#id_citations-0-locator", "para. 1")
    page.screenshot(path=str(artifacts / "admin-event-form.png"), full_page=True)

    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    event = Event.objects.get(slug="japan-expels-a-russian-diplomat")
    assert event.review_state == ReviewState.DRAFT
    assert [p.actor.name for p in event.participations.all()] == ["Japan"]
    assert event.citations.get().locator == "para. 1"

    log_in(page, live_server, "edgar")
    page.goto(f"{live_server.url}/admin/events/event/")
    page.check(f"input[name=_selected_action][value='{event.pk}']")
    page.select_option("select[name=action]", "publish_selected")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist .success")
    assert "Published: 1 event." in page.inner_text(".messagelist")
    event.refresh_from_db()
    assert event.review_state == ReviewState.PUBLISHED
    assert event.history.first().history_user.username == "edgar"
    assert page.console_errors == []
