"""A reader in Chromium: filter to expulsions, read the figures, open an event, follow its
evidence and its links, and see the timeline and the chart; screenshots go to test-artifacts/."""

import re

import pytest

from events.models import Event, Source
from tests.articles import load_articles

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(live_server):
    load_articles()
    return live_server.url


def marks(page, svg_class):
    return page.locator(f"svg.{svg_class} a.mark").count()


def test_reader_finds_who_expelled_whom_and_the_evidence(site, page, artifacts):
    page.goto(f"{site}/events/")
    assert page.locator("h1").inner_text() == "Events"
    rows = page.locator("table.event-table tbody tr").count()
    assert rows == Event.objects.published().count()
    assert marks(page, "timeline-svg") == rows

    # Filter to expulsions through the form.
    # Its label carries the count beside it ("Expulsion 3").
    expulsion = page.locator('input[name="kind"][value="expulsion"]')
    label = page.locator(f'label[for="{expulsion.get_attribute("id")}"]')
    assert label.inner_text().split() == ["Expulsion", "3"]
    expulsion.check()
    page.get_by_role("button", name="Show events").click()
    page.wait_for_url(re.compile(r"kind=expulsion"))
    assert page.locator("table.event-table tbody tr").count() == 3
    assert marks(page, "timeline-svg") == 3
    assert marks(page, "expulsions-svg") == 3
    chart = page.locator("svg.expulsions-svg").text_content()
    assert "60 → Russian Federation" in chart
    assert "23 → Russian Federation" in chart
    assert "more than 100 → Russian Federation" in chart
    # The table of events is the chart's table: no second table of the same expulsions.
    assert page.locator("table.expulsion-table").count() == 0
    figures = page.locator("table.event-table").inner_text()
    assert re.search(r"United States expels 60 Russian diplomats 60 expelled", figures)
    assert "(part of Coordinated expulsion" in figures
    assert re.search(r"United Kingdom expels 23 Russian diplomats 23 expelled", figures)
    csv = page.get_by_role("link", name="Download CSV").get_attribute("href")
    assert csv.startswith("/api/events/?format=csv&") and "kind=expulsion" in csv
    page.screenshot(path=artifacts / "events-list.png", full_page=True)
    assert page.console_errors == []

    # Open the United States' 60.
    page.locator("table.event-table").get_by_role(
        "link", name="United States expels 60 Russian diplomats"
    ).click()
    page.wait_for_url(re.compile(r"/events/2018-03-26-united-states-expels-60"))
    assert page.locator(".facts").inner_text().count("60") >= 1
    # The citation links to the source's address (offline: check it, don't follow it)...
    source_link = page.locator("a.source-link").first
    href = source_link.get_attribute("href")
    source = Source.objects.get(url=href)
    assert source_link.inner_text() == source.title
    # ...and to the source's own page here, which lists the events it evidences.
    page.locator("a.source-page").first.click()
    page.wait_for_url(re.compile(rf"/sources/{source.pk}/$"))
    assert page.locator("h1").inner_text() == source.title
    assert page.get_by_role("link", name="United States expels 60 Russian diplomats").count()
    page.go_back()

    # Follow the linked event it is part of.
    links = page.locator("dl.links")
    assert "Part of:" in links.inner_text()
    links.get_by_role("link", name=re.compile("Coordinated expulsion")).click()
    page.wait_for_url(re.compile(r"/events/2018-03-26-coordinated-expulsion"))
    assert "more than 100" in page.locator(".facts").inner_text()
    assert "Answered by:" in page.locator("dl.links").inner_text()
    assert marks(page, "expulsions-svg") == 2
    assert page.locator("svg.expulsions-svg").get_attribute("role") == "group"
    page.screenshot(path=artifacts / "event-page.png", full_page=True)
    assert page.console_errors == []


def test_japan_page_says_what_japan_did_instead(site, page, artifacts):
    page.goto(f"{site}/countries/jp/")
    assert "Japan initiated no expulsion" in page.locator(".finding").inner_text()
    initiated = page.locator("section[aria-labelledby=initiated-title]").inner_text()
    assert "chemical weapons use is unacceptable" in initiated
    shown = page.locator("section[aria-labelledby=initiated-title] tbody tr").count()
    shown += page.locator("section[aria-labelledby=targeted-title] tbody tr").count()
    shown += page.locator("section[aria-labelledby=others-title] tbody tr").count()
    assert marks(page, "timeline-svg") == shown
    # Keyboard: the skip link comes first and moves focus to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    assert page.console_errors == []


def test_listing_reads_on_a_phone(site, chromium, artifacts):
    context = chromium.new_context(viewport={"width": 390, "height": 844})
    phone = context.new_page()
    try:
        phone.goto(f"{site}/events/?kind=expulsion")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # nothing but the charts' own boxes scrolls sideways
        phone.screenshot(path=artifacts / "events-list-phone.png", full_page=True)
        # The whole listing: its timeline opens on the latest period, and says it scrolls.
        phone.goto(f"{site}/events/")
        assert phone.locator(".timeline .scroll-cue").is_visible()
        last_tick = phone.locator("svg.timeline-svg text.tick").last.bounding_box()
        first_tick = phone.locator("svg.timeline-svg text.tick").first.bounding_box()
        assert 0 <= last_tick["x"] <= 390  # the latest tick is in view...
        assert first_tick["x"] < 0  # ...and the earliest is off to the left, a scroll away
        phone.locator(".timeline").screenshot(path=artifacts / "timeline-phone.png")
    finally:
        context.close()
