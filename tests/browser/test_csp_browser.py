"""The Content-Security-Policy in Chromium: the listing, the admin's event form and Swagger UI
run under it with nothing refused, and still work (the admin's widgets, Swagger UI's list of
operations, the charts at the size they are drawn)."""

import pytest
from django.contrib.auth.models import User

from events.models import Event
from tests.articles import load_articles
from tests.browser.signing_in import PASSWORD, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COORDINATED = "2018-03-26-coordinated-expulsion-of-russian-diplomats"

# Runs before any of the page's own scripts (Playwright injects it outside the policy).
WATCH_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(
    `${event.violatedDirective} refused ${event.blockedURI || "inline"} ` +
    `(${event.sourceFile}:${event.lineNumber})`
  );
});
"""


@pytest.fixture
def site(live_server):
    load_articles()
    return live_server.url


@pytest.fixture
def watched(page):
    """The page, with every console message and every policy violation collected."""
    page.console_messages = []
    page.on(
        "console",
        lambda message: (
            message.type in ("error", "warning")
            and page.console_messages.append(f"{message.type}: {message.text}")
        ),
    )
    page.add_init_script(WATCH_VIOLATIONS)
    # Neither the admin nor Swagger UI's page links a favicon; the browser asks anyway.
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    return page


def assert_nothing_refused(page):
    assert page.evaluate("window.cspViolations") == []
    assert page.console_messages == []
    assert page.console_errors == []


def log_in(page, site):
    User.objects.create_superuser("root", password=PASSWORD)
    sign_in(page, site, "root")
    assert_nothing_refused(page)


def test_the_listing_runs_under_the_policy(site, watched, artifacts):
    page = watched
    page.goto(f"{site}/events/")
    assert page.locator("table.event-table tbody tr").count() > 0
    assert page.locator("svg.timeline-svg a.mark").count() > 0
    # The monthly series keeps the width it is drawn at (its svg's width attribute) without a
    # style attribute, and its numbers scroll within their box.
    chart = page.locator("svg.series-svg").bounding_box()
    assert chart["width"] == pytest.approx(560, abs=1)
    figure = page.locator("figure.chart.series").bounding_box()
    assert figure["width"] == pytest.approx(586, abs=1)
    page.locator("details.monthly-numbers summary").click()
    numbers = page.locator(".series-table-wrap")
    assert numbers.evaluate("element => getComputedStyle(element).overflowY") == "auto"
    page.screenshot(path=str(artifacts / "csp-listing.png"), full_page=True)
    assert_nothing_refused(page)


def test_the_listing_chart_narrows_on_a_phone(site, watched):
    page = watched
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{site}/events/")
    chart = page.locator("svg.series-svg").bounding_box()
    figure = page.locator("figure.chart.series").bounding_box()
    assert chart["width"] < 390 and figure["width"] <= 390
    drawn = page.locator("svg.series-svg").evaluate(
        "svg => svg.getAttribute('height') / svg.getAttribute('width')"
    )
    assert chart["height"] == pytest.approx(chart["width"] * drawn, abs=1)
    assert_nothing_refused(page)


def test_the_admin_event_forms_and_their_widgets_run_under_the_policy(site, watched, artifacts):
    page = watched
    log_in(page, site)

    page.goto(f"{site}/admin/events/event/add/")
    # Prepopulated fields: the slug follows the title as it is typed.
    page.locator("#id_title").press_sequentially("Japan expels a Russian diplomat")
    assert page.input_value("#id_slug") == "japan-expels-a-russian-diplomat"
    # Inlines: "Add another" adds a row, whose autocomplete (select2) searches over fetch.
    rows = page.locator("#participations-group .dynamic-participations").count()
    page.click("#participations-group .add-row a")
    assert page.locator("#participations-group .dynamic-participations").count() == rows + 1
    page.click(f"#participations-{rows} .select2-selection")
    page.fill(".select2-container--open .select2-search__field", "Russ")
    option = page.locator(".select2-results__option", has_text="Russian Federation").first
    option.wait_for()
    option.click()
    assert "Russian Federation" in page.inner_text(f"#participations-{rows} .select2-selection")
    page.screenshot(path=str(artifacts / "csp-admin-add.png"), full_page=True)
    assert_nothing_refused(page)

    event = Event.objects.get(slug=COORDINATED)
    page.goto(f"{site}/admin/events/event/{event.pk}/change/")
    assert page.input_value("#id_title") == event.title
    # The saved participants show in their autocompletes, drawn by select2.
    assert page.locator("#participations-group .select2-container").count() > 0
    # Removing an inline row that was added is the inline script's work too.
    rows = page.locator("#citations-group .dynamic-citations").count()
    page.click("#citations-group .add-row a")
    page.locator("#citations-group .dynamic-citations .inline-deletelink").last.click()
    assert page.locator("#citations-group .dynamic-citations").count() == rows
    page.screenshot(path=str(artifacts / "csp-admin-change.png"), full_page=True)
    assert_nothing_refused(page)


def test_swagger_ui_renders_under_the_policy(site, watched, artifacts):
    page = watched
    page.goto(f"{site}/api/docs/")
    operations = page.locator(".opblock")
    operations.first.wait_for()
    assert operations.count() > 10
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any(text.replace("\u200b", "") == "/api/events/" for text in paths)
    # Opening an operation shows its parameters: Swagger UI's scripts run, not just load.
    page.locator(".opblock-summary", has_text="/api/countries/").first.click()
    page.locator(".opblock-body .parameters").first.wait_for()
    page.screenshot(path=str(artifacts / "csp-swagger-ui.png"), full_page=True)
    assert_nothing_refused(page)
