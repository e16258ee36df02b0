"""The admin's event list and event form at 1280 px: the list fits the screen beside its
filters (every column in view, no title wrapped into a tower) and the title and slug inputs
are wide enough to read a title; screenshots go to test-artifacts/."""

import datetime

import pytest
from django.contrib.auth.models import User

from events.models import Event
from tests.articles import load_articles
from tests.browser.signing_in import PASSWORD, sign_in
from tests.factories import make_event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONGEST = (
    "Joint statement of Britain, France, Germany and the United States on the Salisbury attack"
)
# A draft with a title longer than the list shows (100 characters): cut, whole in its tooltip.
RAMBLING = (
    "Foreign ministers of the Group of Seven meet in Toronto and discuss the Salisbury attack, "
    "the expulsions that followed it, and the talks on the islands"
)


@pytest.fixture
def admin_page(live_server, page):
    load_articles()
    User.objects.create_superuser("root", password=PASSWORD)
    sign_in(page, live_server.url, "root")
    return page


def box(page, selector):
    return page.locator(selector).first.bounding_box()


def test_the_event_list_fits_1280_px(live_server, admin_page, artifacts):
    page = admin_page
    make_event(title=RAMBLING, slug="g7-toronto", start_date=datetime.date(2018, 4, 22))
    page.goto(f"{live_server.url}/admin/events/event/")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == Event.objects.count()
    page.screenshot(path=str(artifacts / "admin-list-1280.png"), full_page=True)

    # Nothing scrolls sideways: neither the page nor the table's own box.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    results = page.locator("#changelist .results")
    assert results.evaluate("element => element.scrollWidth <= element.clientWidth")
    # The last column, the review state, is whole on screen, its heading and its cells.
    heading = box(page, "#result_list th.column-review_state")
    assert heading["x"] >= 0 and heading["x"] + heading["width"] <= 1280
    filters = box(page, "#changelist-filter")
    assert heading["x"] + heading["width"] <= filters["x"]
    assert page.locator("#result_list td.field-review_state").first.inner_text() in {
        "Draft",
        "Published",
    }

    # Titles take two or three lines at most; the short columns one line.
    line = page.locator("#result_list .field-short_title a").first.evaluate(
        "element => parseFloat(getComputedStyle(element).lineHeight)"
    )
    heights = page.locator("#result_list .field-short_title a").evaluate_all(
        "links => links.map(link => link.getBoundingClientRect().height)"
    )
    assert max(heights) <= 3 * line + 1, heights
    for column in ("dates", "kind", "status", "review_state"):
        cells = page.locator(f"#result_list td.field-{column}").evaluate_all(
            "cells => cells.map(cell => cell.getClientRects().length && cell.innerText)"
        )
        assert all("\n" not in cell for cell in cells), (column, cells)
    # A title cut short is whole in its tooltip; one that fits is not cut.
    rambling = page.locator("#result_list .field-short_title span[title]")
    assert rambling.count() == 1
    assert rambling.get_attribute("title") == RAMBLING
    assert rambling.inner_text() == RAMBLING[:99] + "…"
    assert page.get_by_role("link", name=LONGEST, exact=True).count() == 1
    assert page.console_errors == []


def test_the_title_and_slug_inputs_are_wide_enough_to_read(live_server, admin_page, artifacts):
    page = admin_page
    event = Event.objects.get(title=LONGEST)
    page.goto(f"{live_server.url}/admin/events/event/{event.pk}/change/")
    assert page.input_value("#id_title") == LONGEST
    for field in ("#id_title", "#id_slug"):
        width = box(page, field)["width"]
        assert width >= 600, (field, width)
        # The whole title (and its slug) shows without scrolling within the input.
        assert page.locator(field).evaluate("input => input.scrollWidth <= input.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    page.screenshot(path=str(artifacts / "admin-change-1280.png"), full_page=True)
    assert page.console_errors == []
