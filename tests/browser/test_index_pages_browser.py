"""The index pages and the code book in Chromium at 1280 px and 390 px: they render without a
console error (a CSP violation is one), search works, and an event's CAMEO code leads to its
entry; screenshots go to test-artifacts/."""

import pytest

from tests.articles import load_articles

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

UK_23 = "2018-03-14-uk-expels-23-russian-diplomats"


@pytest.fixture
def site(live_server):
    load_articles()
    return live_server.url


@pytest.mark.parametrize("width", [1280, 390])
def test_index_pages_and_codes_render_at_both_widths(site, page, artifacts, width):
    page.set_viewport_size({"width": width, "height": 900})
    for name, path in [
        ("countries", "/countries/"),
        ("actors", "/actors/"),
        ("sources", "/sources/"),
        ("codes", "/codes/"),
    ]:
        page.goto(f"{site}{path}")
        assert page.locator("h1").is_visible()
        # Nothing wider than the screen but the tables' own scrolling boxes.
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, path
        suffix = "" if width == 1280 else "-phone"
        page.screenshot(path=str(artifacts / f"{name}-index{suffix}.png"), full_page=True)
    assert page.console_errors == []


def test_search_a_country_and_follow_a_code_to_its_entry(site, page):
    page.goto(f"{site}/countries/")
    page.get_by_role("textbox", name="Search").fill("JPN")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Japan", exact=True).click()
    assert page.url.endswith("/countries/JP/")
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Countries").click()
    assert page.url.endswith("/countries/")

    page.goto(f"{site}/events/{UK_23}/")
    page.get_by_role("link", name="161", exact=True).click()
    assert page.url.endswith("/codes/#cameo-161")
    assert "Reduce or break diplomatic relations" in page.locator("#cameo-161").inner_text()
    assert page.console_errors == []
