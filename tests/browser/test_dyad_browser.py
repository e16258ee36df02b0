"""A reader in Chromium on the dyad page of Japan and Russia, on a desktop and on a phone: the
charts are drawn whole inside the page, the tables carry the API's numbers, and the links lead
to the events each way; screenshots go to test-artifacts/."""

import re

import pytest
from rest_framework.test import APIClient

from tests.articles import load_articles

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": 1280, "phone": 390}


@pytest.fixture
def site(live_server):
    load_articles()
    return live_server.url


@pytest.fixture(params=list(WIDTHS))
def screen(request, chromium):
    """A page `WIDTHS[name]` pixels wide; console errors are collected on `console_errors`."""
    context = chromium.new_context(viewport={"width": WIDTHS[request.param], "height": 900})
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    yield request.param, page
    context.close()


def test_a_reader_sees_both_directions_drawn_and_counted(site, screen, artifacts):
    name, page = screen
    width = WIDTHS[name]
    expected = APIClient().get("/api/dyads/JP/RU/").json()
    there, back = expected["directions"]
    assert there["events"], "the fixtures have Japan act against Russia"

    # The alpha-3 address leads to the page.
    page.goto(f"{site}/dyads/JPN/RUS/")
    assert page.url == f"{site}/dyads/JP/RU/"
    assert page.locator("h1").inner_text().startswith("Japan and Russian Federation")

    # Who did what to whom: the API's totals.
    totals = page.locator("#dyad-kinds tfoot tr").inner_text().split()
    assert totals == ["All", str(there["events"]), str(back["events"])]

    # Every chart is drawn, whole, inside the page: nothing cut off at either width.
    charts = page.locator("svg.series-svg")
    assert charts.count() >= 2
    for index in range(charts.count()):
        chart = charts.nth(index)
        chart.scroll_into_view_if_needed()
        assert chart.is_visible()
        box = chart.bounding_box()
        assert box["width"] > 200 and box["height"] > 60
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
        figure = chart.locator("xpath=..").bounding_box()
        assert box["x"] + box["width"] <= figure["x"] + figure["width"] + 1
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    # Japan → Russia by kind: one bar per month of the shared span, the table beside it.
    first = page.locator("#kind-jp-ru-svg")
    assert first.locator("g.bar").count() == len(expected["months"])
    assert "per month, by kind" in first.locator("title").first.text_content()
    table = page.locator("#kind-jp-ru-table")
    assert table.is_visible()
    assert table.locator("tbody tr").count() == len(expected["months"])
    in_months = there["events"] - there["too_coarse"]
    assert table.locator("tfoot td").last.inner_text() == str(in_months)
    assert page.locator("#quad-jp-ru-table").is_visible()
    page.screenshot(path=artifacts / f"dyad-page-{name}.png", full_page=True)

    # The links lead to the events each way.
    page.get_by_role("link", name="Events Japan → Russian Federation in the listing").click()
    page.wait_for_url(re.compile(r"/events/\?initiator=JP&target=RU"))
    assert page.locator("table.event-table tbody tr").count() == there["events"]
    page.go_back()
    page.get_by_role("link", name="Events Russian Federation → Japan in the listing").click()
    page.wait_for_url(re.compile(r"/events/\?initiator=RU&target=JP"))
    assert page.locator("table.event-table tbody tr").count() == back["events"]

    # Japan's page names Russia among its partners and links back to the dyad.
    page.goto(f"{site}/countries/JP/")
    page.locator("table.partners").get_by_role("link", name="Russian Federation").click()
    page.wait_for_url(re.compile(r"/dyads/JP/RU/$"))
    assert page.locator("svg.series-svg").first.is_visible()
    assert page.console_errors == []
