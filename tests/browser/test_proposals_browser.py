"""A curator's change to a published event waits as a proposal; an editor reads the difference
in the admin and accepts it, and the published event changes."""

import pytest

from events.models import EventProposal, ProposalState
from tests.browser.test_admin_browser import log_in, make_login
from tests.factories import make_actor, make_published_event, make_source

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_editor_accepts_a_curators_proposal_in_the_admin(page, live_server, artifacts):
    make_login("carla", "curators")
    make_login("edgar", "editors")
    event = make_published_event(
        title="Japan expels a diplomat",
        initiator=make_actor(name="Japan", slug="japan"),
        source=make_source(title="Japan to expel Russian diplomat"),
    )
    # The admin links no favicon; the browser's own request for one is not the admin's error.
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))

    log_in(page, live_server, "carla")
    page.goto(f"{live_server.url}/admin/events/event/{event.pk}/change/")
    assert "saving sends your change to an editor" in page.inner_text("#proposal-notice")
    page.fill("#id_title", "Japan expels a Russian diplomat")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    assert "saved as a proposal for an editor to review" in page.inner_text(".messagelist")
    proposal = EventProposal.objects.get()
    event.refresh_from_db()
    assert (event.title, event.version) == ("Japan expels a diplomat", 1)

    log_in(page, live_server, "edgar")
    page.goto(f"{live_server.url}/admin/events/event/{event.pk}/change/")
    page.click("#proposal-notice a")  # "1 proposal waits for this event: review it"
    page.click(f"#result_list a[href*='/eventproposal/{proposal.pk}/change/']")
    title_row = page.locator("#proposal-difference tr[data-field='title']")
    assert title_row.locator("td.now").inner_text() == "Japan expels a diplomat"
    assert title_row.locator("td.proposed").inner_text() == "Japan expels a Russian diplomat"
    page.screenshot(path=str(artifacts / "admin-proposal-review.png"), full_page=True)

    page.click("input[name=_accept]")
    page.wait_for_selector(".messagelist .success")
    assert "Accepted:" in page.inner_text(".messagelist")
    event.refresh_from_db()
    assert (event.title, event.version) == ("Japan expels a Russian diplomat", 2)
    assert event.history.first().history_user.username == "edgar"
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.ACCEPTED
    assert page.console_errors == []
