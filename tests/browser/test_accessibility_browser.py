"""Accessibility in Chromium: axe-core on every kind of page at 1280 px and 390 px (no serious
or critical violation), and the listing and the home page by keyboard alone (every filter, link
and map country reached by Tab, with a visible focus indicator, scrolled into view).

axe-core comes from its npm package (package.json; `make npm` installs it into node_modules/)
and is evaluated in the page under test with its Content-Security-Policy in force. A full-page
screenshot of each page at each width goes to test-artifacts/<kind>-<width>.png.
"""

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

from events.models import Event, Source
from tests.articles import load_articles

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = {1280: 900, 390: 844}
# What the site is measured against: WCAG 2.x A and AA, and axe's best practices.
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}
BLOCKING = {"serious", "critical"}

COORDINATED = "2018-03-26-coordinated-expulsion-of-russian-diplomats"


def source_page():
    return f"/sources/{Source.objects.order_by('pk').values_list('pk', flat=True)[0]}/"


def admin_change_form():
    return f"/admin/events/event/{Event.objects.get(slug=COORDINATED).pk}/change/"


# Every kind of page: its name (the screenshot's) and its address, or how to find it.
PAGES = {
    "home": "/",
    "listing": "/events/",
    "listing-filtered": "/events/?kind=expulsion",
    "event": f"/events/{COORDINATED}/",
    "country": "/countries/GB/",
    "actor": "/actors/shinzo-abe/",
    "source": source_page,
    "dyad": "/dyads/JP/RU/",
    "countries": "/countries/",
    "actors": "/actors/",
    "sources": "/sources/",
    "codes": "/codes/",
    "not-found": "/no-such-page/",
    "api-root": "/api/",
    "admin-login": "/admin/login/",
    "admin-event-list": "/admin/events/event/",
    "admin-event-form": admin_change_form,
}
ADMIN = {"admin-event-list", "admin-event-form"}


@pytest.fixture(scope="session")
def axe_source():
    if not AXE.exists():
        pytest.fail(f"axe-core is not installed ({AXE} is missing): run `make npm`", pytrace=False)
    return AXE.read_text()


@pytest.fixture
def site(live_server):
    load_articles()
    return live_server.url


def log_in(page, site):
    """A staff session in the browser's cookies, without the login form's password hashing."""
    user = User.objects.create_superuser("root", password=None)
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": site}])


# Left out: the admin's autocompletes (Django's select2), whose combobox is named by the
# option chosen, so that an empty one (an event's location before it is set) has no name.
# Fixing it means patching Django's widget script; the <select> behind it is labelled.
ADMIN_EXCLUDE = [[".select2-container"]]


def run_axe(page, axe_source, exclude=()):
    # Evaluated through the DevTools protocol, as the test's own script: the page keeps its
    # Content-Security-Policy, which would refuse an inline <script>.
    page.evaluate(axe_source)
    context = {"include": [["html"]], "exclude": list(exclude)}
    return page.evaluate(
        "([context, options]) => axe.run(context, options)", [context, AXE_OPTIONS]
    )["violations"]


def describe(violations):
    lines = []
    for violation in violations:
        lines.append(f"{violation['impact']}: {violation['id']}: {violation['help']}")
        lines.append(f"  {violation['helpUrl']}")
        for node in violation["nodes"][:8]:
            lines.append(f"  - {' '.join(map(str, node['target']))}")
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            if summary:
                lines.append(f"    {summary[:300]}")
        if len(violation["nodes"]) > 8:
            lines.append(f"  … and {len(violation['nodes']) - 8} more")
    return "\n".join(lines)


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("kind", list(PAGES))
def test_axe_finds_nothing_serious(site, page, artifacts, axe_source, kind, width):
    page.set_viewport_size({"width": width, "height": WIDTHS[width]})
    # The admin links no favicon; the browser asks for one anyway.
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    if kind in ADMIN:
        log_in(page, site)
    path = PAGES[kind]() if callable(PAGES[kind]) else PAGES[kind]
    response = page.goto(f"{site}{path}")
    assert response.status == (404 if kind == "not-found" else 200), path
    page.screenshot(path=str(artifacts / f"{kind}-{width}.png"), full_page=True)
    violations = run_axe(page, axe_source, ADMIN_EXCLUDE if kind in ADMIN else ())
    blocking = [violation for violation in violations if violation["impact"] in BLOCKING]
    assert not blocking, f"axe on {path} at {width} px:\n{describe(blocking)}"


# --- Keyboard only ---------------------------------------------------------------------------

# Marks what Tab must reach: every control of the listing's filter form, every link in the main
# content and every link of an SVG (the map's countries, the timeline's marks), when drawn.
MARK_EXPECTED = """
() => {
  const drawn = (element) => {
    // Inside a closed <details> counts: its summary opens it.
    const closed = element.closest("details:not([open])");
    const shown = closed ? closed : element;
    return shown.getClientRects().length > 0 && getComputedStyle(shown).visibility !== "hidden";
  };
  const selectors = [
    "form.filters input:not([type=hidden])", "form.filters select", "form.filters textarea",
    "form.filters button", "main a[href]", "svg a",
  ];
  const expected = new Set();
  for (const element of document.querySelectorAll(selectors.join(", "))) {
    if (!element.disabled && drawn(element)) expected.add(element);
  }
  let index = 0;
  for (const element of document.querySelectorAll("*")) {
    element.dataset && (element.dataset.tabKey = String(index++));
  }
  return Array.from(expected).map((element) => element.dataset.tabKey);
}
"""

# The focused element: its key, how it is described, whether its focus shows, and where it is.
FOCUSED = """
() => {
  const element = document.activeElement;
  if (!element || element === document.body) return null;
  // Focus within an element's own parts (a date input's calendar button): the browser's ring.
  const own = element.matches(":focus");
  const style = getComputedStyle(element);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  const shadow = style.boxShadow && style.boxShadow !== "none";
  const rect = element.getBoundingClientRect();
  // Scrolled into view: on screen at least 12 px of it each way, or all of it (a chart's mark
  // is in view though its label may run past the edge of the chart's scrolling box).
  const shown = (start, end, size) => Math.min(end, size) - Math.max(start, 0);
  const inView =
    shown(rect.left, rect.right, innerWidth) >= Math.min(12, rect.width) - 1 &&
    shown(rect.top, rect.bottom, innerHeight) >= Math.min(12, rect.height) - 1;
  const [left, top, width, height] = [rect.left, rect.top, rect.width, rect.height].map(Math.round);
  const where = `at ${left},${top}, ${width} by ${height} px`;
  const label = (element.getAttribute("aria-label") || element.textContent || element.name || "")
    .trim().replace(/\\s+/g, " ").slice(0, 60);
  const details = element.tagName === "SUMMARY" ? element.parentElement : null;
  return {
    key: element.dataset.tabKey || null,
    what: `<${element.tagName.toLowerCase()}> ${label}`,
    visible: outline || shadow || !own,
    inView,
    where,
    closedSummary: !!(details && details.tagName === "DETAILS" && !details.open),
  };
}
"""


def tab_through(page):
    """Tab from the top of the page until focus comes round again; the elements focused."""
    expected = set(page.evaluate(MARK_EXPECTED))
    reached, problems = set(), []
    first = None
    for _ in range(3 * len(expected) + 60):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None:  # past the last element, on the page itself
            if reached:
                break
            continue
        if focused["key"] == first:
            break
        first = first or focused["key"]
        reached.add(focused["key"])
        if not focused["visible"]:
            problems.append(f"no visible focus indicator: {focused['what']}")
        if not focused["inView"]:
            problems.append(f"focused but not in view: {focused['what']} ({focused['where']})")
        if focused["closedSummary"]:
            page.keyboard.press("Enter")  # opens "More filters", as a keyboard user would
    missed = page.evaluate(
        """keys => keys.map((key) => {
             const element = document.querySelector(`[data-tab-key="${key}"]`);
             const label = element.getAttribute("aria-label") || element.textContent || "";
             return `<${element.tagName.toLowerCase()}> ${label.trim().slice(0, 60)}`;
           })""",
        sorted(expected - reached),
    )
    return expected, reached, problems, missed


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("path", ["/events/", "/"])
def test_keyboard_alone_reaches_every_filter_link_and_country(site, page, path, width):
    page.set_viewport_size({"width": width, "height": WIDTHS[width]})
    page.goto(f"{site}{path}")
    expected, _, problems, missed = tab_through(page)
    assert len(expected) > 10
    assert not missed, f"Tab never reached on {path} at {width} px: {missed}"
    assert not problems, f"On {path} at {width} px:\n" + "\n".join(problems)
    if path == "/events/":
        # The filters, the table's links, and the map's countries and timeline's marks if drawn.
        assert page.locator("form.filters select, form.filters input").count() > 5
    assert page.console_errors == []
