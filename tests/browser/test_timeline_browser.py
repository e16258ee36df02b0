"""The listing's timeline in Chromium at 1280 px and on a 390 px phone: marks labelled where
there is room, numbered with a key under the chart where there is not, no two labels on top of
each other (measured as drawn, not as estimated), every mark reachable by keyboard.
Screenshots go to test-artifacts/ as timeline-1280.png and timeline-390.png (issue 15)."""

from pathlib import Path

import pytest

from events.models import Event
from tests.articles import load_articles

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"

# Each drawn label and mark of the timeline, as the browser lays them out (page pixels).
BOXES = """svg => {
    const box = element => {
        const r = element.getBoundingClientRect();
        return {left: r.left, right: r.right, top: r.top, bottom: r.bottom};
    };
    return [...svg.querySelectorAll("a.mark")].map(a => ({
        href: a.getAttribute("href"),
        number: a.dataset.number || null,
        label: a.querySelector(".mark-label") ? box(a.querySelector(".mark-label")) : null,
        labelText: a.querySelector(".mark-label")?.textContent || null,
        numberBox: a.querySelector(".mark-number") ? box(a.querySelector(".mark-number")) : null,
        shape: box(a.querySelector("circle, rect, polygon")),
        svg: box(svg),
    }));
}"""


def overlap(a, b, slack=0.5):
    return (
        a["left"] < b["right"] - slack
        and b["left"] < a["right"] - slack
        and a["top"] < b["bottom"] - slack
        and b["top"] < a["bottom"] - slack
    )


@pytest.fixture
def site(live_server):
    load_articles()
    return live_server.url


def read_timeline(page):
    svg = page.locator("svg.timeline-svg")
    marks = svg.evaluate(BOXES)
    assert len(marks) == page.locator("table.event-table tbody tr").count()
    labelled = [mark for mark in marks if mark["label"]]
    numbered = [mark for mark in marks if mark["number"]]
    assert labelled, "no mark carries a label"
    # Every mark has either its label or its number.
    assert all(bool(mark["label"]) != bool(mark["numberBox"]) for mark in marks)

    # No label lies over another label, over a mark or a number, or past the chart's edge.
    drawn = [(mark["href"], "label", mark["label"]) for mark in labelled]
    drawn += [(mark["href"], "number", mark["numberBox"]) for mark in numbered]
    for index, (href, what, box) in enumerate(drawn):
        assert box["right"] <= marks[0]["svg"]["right"] + 0.5, (href, what)
        for other_href, other_what, other in drawn[index + 1 :]:
            assert not overlap(box, other), (href, what, other_href, other_what)
        for mark in marks:
            # A span carries its own label inside its bar: that is its place, not an overlap.
            if mark["href"] != href:
                assert not overlap(box, mark["shape"]), (href, what, mark["href"])

    # The key under the chart: one entry per number, in order, each linking to its event.
    key = page.locator(".timeline-key li")
    assert key.count() == len(numbered)
    by_number = {int(mark["number"]): mark["href"] for mark in numbered}
    assert sorted(by_number) == list(range(1, len(numbered) + 1))
    for index in range(key.count()):
        entry = key.nth(index)
        assert int(entry.get_attribute("value")) == index + 1
        assert entry.locator("a").get_attribute("href") == by_number[index + 1]
    # A labelled mark is not repeated in the key.
    keyed = {key.nth(index).locator("a").get_attribute("href") for index in range(key.count())}
    assert not keyed & {mark["href"] for mark in labelled}
    return marks, labelled, numbered


def test_timeline_labels_and_key_at_1280(site, page, artifacts):
    page.goto(f"{site}/events/")
    marks, labelled, _ = read_timeline(page)
    # At this width most marks are labelled; the labels are visible and readable text.
    assert len(labelled) >= len(marks) // 2
    first = page.locator("svg.timeline-svg .mark-label").first
    assert first.is_visible()
    assert float(first.evaluate("e => getComputedStyle(e).fontSize").removesuffix("px")) >= 11
    titles = set(Event.objects.published().values_list("title", flat=True))
    for mark in labelled:
        text = mark["labelText"]
        assert text in titles or (
            text.endswith("…") and any(t.startswith(text[:-1]) for t in titles)
        )
    page.locator(".timeline").screenshot(path=artifacts / "timeline-1280.png")

    # Keyboard: the marks are links in the tab order, and the focused one is outlined.
    page.locator("svg.timeline-svg a.mark").first.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => [document.activeElement.getAttribute('class'),"
        " getComputedStyle(document.activeElement).outlineStyle]"
    )
    assert focused == ["mark", "solid"]
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('class')") == "mark"
    page.locator(".timeline").screenshot(path=artifacts / "timeline-focus-1280.png")

    # Focusable links inside the drawing: it is a group of links, not an image (whose
    # children would be hidden from assistive technology). axe-core finds nothing serious.
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (the Makefile's `npm` target).")
    page.evaluate(AXE.read_text())
    violations = page.evaluate(
        """async () => (await axe.run(document.querySelector(".timeline"))).violations
            .filter(v => ["serious", "critical"].includes(v.impact)).map(v => v.id)"""
    )
    assert violations == []
    assert page.console_errors == []


def test_timeline_labels_and_key_on_a_phone(site, chromium, artifacts):
    context = chromium.new_context(viewport={"width": 390, "height": 844})
    phone = context.new_page()
    try:
        phone.goto(f"{site}/events/")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        _, labelled, numbered = read_timeline(phone)
        # The latest period is in view and some of its labels with it; text keeps its size.
        in_view = [m for m in labelled if m["label"]["left"] >= 0 and m["label"]["right"] <= 390]
        assert in_view
        size = phone.locator("svg.timeline-svg .mark-label").first.evaluate(
            "e => e.getBoundingClientRect().height"
        )
        assert size >= 11
        # Whatever lies outside the box, the key lists every number legibly.
        if numbered:
            assert phone.locator(".timeline-key").is_visible()
        phone.locator(".timeline").screenshot(path=artifacts / "timeline-390.png")

        # Focus a mark and the box scrolls to show its link. (Chromium leaves a link that is
        # already partly in view where it is: its mark or its label may lie past the box's edge.)
        box = phone.locator(".timeline .chart-scroll").bounding_box()
        links = phone.locator("svg.timeline-svg a.mark")
        for index in range(links.count()):
            links.nth(index).focus()
            shown = links.nth(index).bounding_box()
            assert shown["x"] < box["x"] + box["width"] and shown["x"] + shown["width"] > box["x"]
    finally:
        context.close()
